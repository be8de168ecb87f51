//! `/1/auth/`: sign-in and sign-out.

use actix_web::{HttpRequest, HttpResponse};
use serde_json::json;

use crate::api::extract::{Call, client_ip, state};
use crate::api::ok200;
use crate::api::params::Params;
use crate::clock::format_time;
use crate::error::ApiResult;
use crate::service::auth::{self, SignIn};

/// `POST /1/auth/`: exchanges a user name (or email) and password for a session token.
pub async fn sign_in(request: HttpRequest, params: Params) -> ApiResult<HttpResponse> {
    let state = state(&request)?;
    let input = SignIn {
        login: params.get("username").unwrap_or_default().to_string(),
        password: params.get("password").unwrap_or_default().to_string(),
        auth_code: params.get("auth_code").map(str::to_string),
        ip: client_ip(&request),
    };
    let grant = auth::sign_in(&state.context, input).await?;
    Ok(ok200(json!({
        "session_token": grant.token,
        "expires": format_time(grant.expires),
    })))
}

/// `/1/auth/logout/`: revokes the token the request presents.
pub async fn sign_out(request: HttpRequest, call: Call) -> ApiResult<HttpResponse> {
    let state = state(&request)?;
    auth::sign_out(&state.context, &call.caller).await?;
    Ok(ok200(json!({})))
}
