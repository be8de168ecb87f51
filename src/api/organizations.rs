//! `/1/organization/...` and `/1/organizations/`: the tree of organizations.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Value, json};

use crate::api::extract::{Call, state};
use crate::api::params::Params;
use crate::api::{list_json, path_id};
use crate::api::{ok, ok200};
use crate::error::ApiResult;
use crate::service::organizations::{self, OrgChanges, OrgView};

/// `/1/organization/create/`: creates an organization (201).
pub async fn create_organization(request: HttpRequest, call: Call) -> ApiResult<HttpResponse> {
    let state = state(&request)?;
    let changes = org_changes(&call.params)?;
    let view = organizations::create_organization(&state.context, &call.caller, changes).await?;
    Ok(ok(StatusCode::CREATED, org_json(&view)))
}

/// `/1/organization/update/<org_id>/`: changes the given fields.
pub async fn update_organization(request: HttpRequest, call: Call) -> ApiResult<HttpResponse> {
    let state = state(&request)?;
    let org_id = path_id(&request, "org_id", "Organization")?;
    let changes = org_changes(&call.params)?;
    let view =
        organizations::update_organization_fields(&state.context, &call.caller, org_id, changes)
            .await?;
    Ok(ok200(org_json(&view)))
}

/// `/1/organization/delete/<org_id>/`: deletes an organization (`recursive` for a non-empty
/// one).
pub async fn delete_organization(request: HttpRequest, call: Call) -> ApiResult<HttpResponse> {
    let state = state(&request)?;
    let org_id = path_id(&request, "org_id", "Organization")?;
    let recursive = call.params.bool("recursive", false)?;
    organizations::delete_organization_tree(&state.context, &call.caller, org_id, recursive)
        .await?;
    Ok(ok200(json!({})))
}

/// `/1/organization/<org_id>/`: one organization.
pub async fn get_organization(request: HttpRequest, call: Call) -> ApiResult<HttpResponse> {
    let state = state(&request)?;
    let org_id = path_id(&request, "org_id", "Organization")?;
    let view = organizations::get_organization(&state.context, &call.caller, org_id).await?;
    Ok(ok200(org_json(&view)))
}

/// `/1/organizations/`: all organizations, or the children of `parent_id`, newest first.
pub async fn list_organizations(request: HttpRequest, call: Call) -> ApiResult<HttpResponse> {
    let state = state(&request)?;
    let (offset, limit) = call.params.paging()?;
    let parent_id = call.params.int::<i64>("parent_id")?;
    let page =
        organizations::list_organizations(&state.context, &call.caller, parent_id, offset, limit)
            .await?;
    let results = page.organizations.iter().map(org_json).collect();
    Ok(ok200(list_json(results, page.total)))
}

fn org_changes(params: &Params) -> ApiResult<OrgChanges> {
    let clearable = |name: &str| {
        params.get(name).map(|value| Some(value.to_string()).filter(|v| !v.trim().is_empty()))
    };
    Ok(OrgChanges {
        name: params.get("name").map(str::to_string),
        parent_id: params.int("parent_id")?,
        email: clearable("email"),
        description: clearable("description"),
        space_quota: params.nullable_int("space_quota")?,
        active: params.opt_bool("active")?,
    })
}

/// The organization object of the contract.
fn org_json(view: &OrgView) -> Value {
    let org = &view.org;
    json!({
        "id": org.id,
        "name": org.name,
        "parent_id": org.parent_id,
        "email": org.email,
        "description": org.description,
        "space_quota": org.space_quota,
        "space_used": view.space_used,
        "user_count": view.user_count,
        "created": org.created,
        "active": org.active,
    })
}
