//! `/1/machines/`: agents register, check in, and are listed.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Value, json};

use crate::api::extract::{Call, state};
use crate::api::{ok, ok200, path_id};
use crate::error::ApiResult;
use crate::service::machines::{self, MachineFilter, MachineView, Registration};

/// `/1/machines/register/`: 201 for a new guid, 200 with the same machine for a known one.
pub async fn register_machine(request: HttpRequest, call: Call) -> ApiResult<HttpResponse> {
    let state = state(&request)?;
    let params = &call.params;
    let text = |name: &str| params.get(name).unwrap_or_default().to_string();
    let registration = Registration {
        guid: params.required("guid")?.to_string(),
        name: params.get("name").map(str::to_string),
        hostname: text("hostname"),
        machine_type: params.get("machine_type").filter(|t| !t.is_empty()).map(str::to_string),
        os_type: text("os_type"),
        os_version: text("os_version"),
        agent_version: text("agent_version"),
    };
    let (view, created) = machines::register(&state.context, &call.caller, registration).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok(ok(status, machine_json(&view)))
}

/// `/1/machines/<id>/checkin/`: the agent says it is alive, with a status.
pub async fn check_in_machine(request: HttpRequest, call: Call) -> ApiResult<HttpResponse> {
    let state = state(&request)?;
    let id = path_id(&request, "machine_id", "Machine")?;
    let status = call.params.get("status").map(str::to_string);
    let agent_version = call.params.get("agent_version").map(str::to_string);
    let view = machines::check_in(&state.context, &call.caller, id, status, agent_version).await?;
    Ok(ok200(machine_json(&view)))
}

/// `/1/machines/<id>/`: one machine.
pub async fn get_machine(request: HttpRequest, call: Call) -> ApiResult<HttpResponse> {
    let state = state(&request)?;
    let id = path_id(&request, "machine_id", "Machine")?;
    let view = machines::get(&state.context, &call.caller, id).await?;
    Ok(ok200(machine_json(&view)))
}

/// `/1/machines/`: the machines the caller may see.
pub async fn list_machines(request: HttpRequest, call: Call) -> ApiResult<HttpResponse> {
    let state = state(&request)?;
    let (offset, limit) = call.params.paging()?;
    let filter = MachineFilter {
        user_id: call.params.int("user_id")?,
        organization_id: call.params.int("organization_id")?,
        offset,
        limit,
    };
    let (views, total) = machines::list(&state.context, &call.caller, filter).await?;
    Ok(ok200(json!({
        "results": views.iter().map(machine_json).collect::<Vec<_>>(),
        "total": total,
    })))
}

/// `/1/machines/delete/<id>/`: removes a machine; its backup roots are kept unless
/// `delete_backup_roots=true`, and the answer lists which were kept and which deleted.
pub async fn delete_machine(request: HttpRequest, call: Call) -> ApiResult<HttpResponse> {
    let state = state(&request)?;
    let id = path_id(&request, "machine_id", "Machine")?;
    let delete_backups = call.params.bool("delete_backup_roots", false)?;
    let removal = machines::delete(&state.context, &call.caller, id, delete_backups).await?;
    Ok(ok200(json!({
        "kept_backup_roots": removal.kept_backup_roots,
        "deleted_backup_roots": removal.deleted_backup_roots,
    })))
}

fn machine_json(view: &MachineView) -> Value {
    let machine = &view.machine;
    json!({
        "id": machine.id,
        "guid": machine.guid,
        "name": machine.name,
        "hostname": machine.hostname,
        "machine_type": machine.machine_type,
        "os_type": machine.os_type,
        "os_version": machine.os_version,
        "agent_version": machine.agent_version,
        "user_id": machine.user_id,
        "organization_id": machine.organization_id,
        "created": machine.created,
        "last_seen": machine.last_seen,
        "last_ip": machine.last_ip,
        "status": machine.status,
        "online": view.online,
        "backup_roots": view.backup_roots,
    })
}
