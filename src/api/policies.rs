//! `/1/policies/`: the server-wide policies.

use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Value, json};

use crate::api::extract::{Call, state};
use crate::api::ok200;
use crate::db::policies::Policies;
use crate::error::ApiResult;
use crate::service::policies::{self, PolicyChanges};

/// `/1/policies/`: the current policies (administrators).
pub async fn get_policies(request: HttpRequest, call: Call) -> ApiResult<HttpResponse> {
    let state = state(&request)?;
    let current = policies::get(&state.context, &call.caller).await?;
    Ok(ok200(policies_json(&current)))
}

/// `/1/policies/update/`: changes the given policies (system administrators).
pub async fn update_policies(request: HttpRequest, call: Call) -> ApiResult<HttpResponse> {
    let state = state(&request)?;
    let params = &call.params;
    let changes = PolicyChanges {
        api_token_hours: params.int("api_token_hours")?,
        require_two_step: params.opt_bool("require_two_step")?,
        password_min_length: params.int("password_min_length")?,
        max_failed_logins: params.int("max_failed_logins")?,
        lockout_minutes: params.int("lockout_minutes")?,
        share_links_enabled: params.opt_bool("share_links_enabled")?,
        share_link_max_days: params.int("share_link_max_days")?,
        default_user_quota: params.nullable_int("default_user_quota")?,
    };
    let updated = policies::update(&state.context, &call.caller, changes).await?;
    Ok(ok200(policies_json(&updated)))
}

fn policies_json(policies: &Policies) -> Value {
    json!({
        "api_token_hours": policies.api_token_hours,
        "require_two_step": policies.require_two_step,
        "password_min_length": policies.password_min_length,
        "max_failed_logins": policies.max_failed_logins,
        "lockout_minutes": policies.lockout_minutes,
        "share_links_enabled": policies.share_links_enabled,
        "share_link_max_days": policies.share_link_max_days,
        "default_user_quota": policies.default_user_quota,
    })
}
