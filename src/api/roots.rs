//! `/1/roots/...`: roots and their members.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use crate::api::extract::{Call, state};
use crate::api::{ok, ok200, parse_id};
use crate::db::roots::{MemberRow, RootRow};
use crate::domain::{Permission, RootType};
use crate::error::{ApiError, ApiResult};
use crate::service::roots::{self, CreateRoot};

/// `/1/roots/`: the roots the caller reaches.
pub async fn list_roots(request: HttpRequest, call: Call) -> ApiResult<HttpResponse> {
    let state = state(&request)?;
    let user_id = call.params.int("user_id")?;
    let organization_id = call.params.int("organization_id")?;
    let found = roots::list_roots(&state.context, &call.caller, user_id, organization_id).await?;
    let results: Vec<Value> = found.iter().map(|(root, level)| root_json(root, *level)).collect();
    Ok(ok200(json!({"total": results.len(), "results": results})))
}

/// `/1/roots/create/`.
pub async fn create_root(request: HttpRequest, call: Call) -> ApiResult<HttpResponse> {
    let state = state(&request)?;
    let params = &call.params;
    let type_text = params.required("type")?;
    let root_type = RootType::parse(type_text.trim()).ok_or_else(|| {
        ApiError::invalid("The parameter 'type' must be 'sync', 'backup' or 'share'.")
    })?;
    let input = CreateRoot {
        name: params.required("name")?.to_string(),
        root_type,
        user_id: params.int("user_id")?,
        organization_id: params.int("organization_id")?,
        machine_id: params.int("machine_id")?,
        space_quota: params.nullable_int("space_quota")?.flatten(),
        path: params.get("path").filter(|path| !path.trim().is_empty()).map(str::to_string),
    };
    let (root, level) = roots::create_root(&state.context, &call.caller, input).await?;
    Ok(ok(StatusCode::CREATED, root_json(&root, level)))
}

/// `/1/roots/<root_id>/`.
pub async fn get_root(
    request: HttpRequest,
    call: Call,
    root_id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let state = state(&request)?;
    let root_id = parse_id(&root_id, "Root")?;
    let (root, level) = roots::get_root(&state.context, &call.caller, root_id).await?;
    Ok(ok200(root_json(&root, level)))
}

/// `/1/roots/update/<root_id>/`.
pub async fn update_root(
    request: HttpRequest,
    call: Call,
    root_id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let state = state(&request)?;
    let root_id = parse_id(&root_id, "Root")?;
    let name = call.params.get("name").map(str::to_string);
    let space_quota = call.params.nullable_int("space_quota")?;
    let (root, level) =
        roots::update_root_settings(&state.context, &call.caller, root_id, name, space_quota)
            .await?;
    Ok(ok200(root_json(&root, level)))
}

/// `/1/roots/delete/<root_id>/`.
pub async fn delete_root(
    request: HttpRequest,
    call: Call,
    root_id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let state = state(&request)?;
    let root_id = parse_id(&root_id, "Root")?;
    roots::delete_root(&state.context, &call.caller, root_id).await?;
    Ok(ok200(json!({})))
}

/// `/1/roots/<root_id>/members/`.
pub async fn list_members(
    request: HttpRequest,
    call: Call,
    root_id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let state = state(&request)?;
    let root_id = parse_id(&root_id, "Root")?;
    let members = roots::members(&state.context, &call.caller, root_id).await?;
    let results: Vec<Value> = members.iter().map(member_json).collect();
    Ok(ok200(json!({"total": results.len(), "results": results})))
}

/// `/1/roots/<root_id>/members/add/`.
pub async fn add_member(
    request: HttpRequest,
    call: Call,
    root_id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let state = state(&request)?;
    let root_id = parse_id(&root_id, "Root")?;
    let user_id = call.params.int("user_id")?.ok_or_else(|| ApiError::missing("user_id"))?;
    let permission =
        Permission::parse(call.params.required("permission")?.trim()).ok_or_else(|| {
            ApiError::invalid(
                "The parameter 'permission' must be 'read', 'write', 'delete' or 'admin'.",
            )
        })?;
    let member =
        roots::add_member(&state.context, &call.caller, root_id, user_id, permission).await?;
    Ok(ok200(member_json(&member)))
}

/// `/1/roots/<root_id>/members/remove/`.
pub async fn remove_member(
    request: HttpRequest,
    call: Call,
    root_id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let state = state(&request)?;
    let root_id = parse_id(&root_id, "Root")?;
    let user_id = call.params.int("user_id")?.ok_or_else(|| ApiError::missing("user_id"))?;
    roots::remove_root_member(&state.context, &call.caller, root_id, user_id).await?;
    Ok(ok200(json!({})))
}

/// The root object.
pub fn root_json(root: &RootRow, permission: Permission) -> Value {
    json!({
        "id": root.id,
        "name": root.name,
        "type": root.root_type.as_str(),
        "owner_id": root.owner_id,
        "organization_id": root.organization_id,
        "machine_id": root.machine_id,
        "space_used": root.space_used,
        "space_quota": root.space_quota,
        "created": root.created,
        "permission": permission.as_str(),
    })
}

fn member_json(member: &MemberRow) -> Value {
    json!({
        "user_id": member.user_id,
        "username": member.username,
        "permission": member.permission.as_str(),
    })
}
