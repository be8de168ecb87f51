//! `/1/account/info/`: the signed-in user's own account.

use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Value, json};

use crate::api::extract::{Call, state};
use crate::api::ok200;
use crate::db::roots::RootRow;
use crate::domain::Permission;
use crate::error::ApiResult;
use crate::service::account;

/// `/1/account/info/`: who the token belongs to, their usage and the roots they reach.
pub async fn account_info(request: HttpRequest, call: Call) -> ApiResult<HttpResponse> {
    let state = state(&request)?;
    let info = account::account_info(&state.context, &call.caller).await?;
    let user = &info.user;
    Ok(ok200(json!({
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "display_name": user.display_name(),
        "organization_id": user.organization_id,
        "role": user.role.as_str(),
        "two_step_mode": user.two_step_mode.as_str(),
        "space_used": info.space_used,
        "space_quota": user.space_quota,
        "roots": info.roots.iter().map(|(root, level)| root_summary_json(root, *level))
            .collect::<Vec<_>>(),
    })))
}

/// The short form of a root listed in account info.
pub fn root_summary_json(root: &RootRow, permission: Permission) -> Value {
    json!({
        "id": root.id,
        "name": root.name,
        "type": root.root_type.as_str(),
        "permission": permission.as_str(),
        "space_used": root.space_used,
        "space_quota": root.space_quota,
    })
}
