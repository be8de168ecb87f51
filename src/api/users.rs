//! `/1/user/...` and `/1/users/`: managing users.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Value, json};

use crate::api::extract::{Call, state};
use crate::api::params::Params;
use crate::api::{list_json, path_id};
use crate::api::{ok, ok200};
use crate::db::users::UserRow;
use crate::error::ApiResult;
use crate::service::users::{self, UserChanges, UserView};

/// `/1/user/create/`: creates a user (201).
pub async fn create_user(request: HttpRequest, call: Call) -> ApiResult<HttpResponse> {
    let state = state(&request)?;
    let changes = user_changes(&call.params)?;
    let view = users::create_user(&state.context, &call.caller, changes).await?;
    Ok(ok(StatusCode::CREATED, user_view_json(&view)))
}

/// `/1/user/update/<user_id>/`: changes the given fields of a user.
pub async fn update_user(request: HttpRequest, call: Call) -> ApiResult<HttpResponse> {
    let state = state(&request)?;
    let user_id = path_id(&request, "user_id", "User")?;
    let changes = user_changes(&call.params)?;
    let view = users::update_user(&state.context, &call.caller, user_id, changes).await?;
    Ok(ok200(user_view_json(&view)))
}

/// `/1/user/delete/<user_id>/`: deletes a user, handing their roots to `transfer_to` if given.
pub async fn delete_user(request: HttpRequest, call: Call) -> ApiResult<HttpResponse> {
    let state = state(&request)?;
    let user_id = path_id(&request, "user_id", "User")?;
    let transfer_to = call.params.int::<i64>("transfer_to")?;
    users::delete_user(&state.context, &call.caller, user_id, transfer_to).await?;
    Ok(ok200(json!({})))
}

/// `/1/user/<user_id>/`: one user.
pub async fn get_user(request: HttpRequest, call: Call) -> ApiResult<HttpResponse> {
    let state = state(&request)?;
    let user_id = path_id(&request, "user_id", "User")?;
    let view = users::get_user(&state.context, &call.caller, user_id).await?;
    Ok(ok200(user_view_json(&view)))
}

/// `/1/users/`: users in the caller's reach, newest first.
pub async fn list_users(request: HttpRequest, call: Call) -> ApiResult<HttpResponse> {
    let state = state(&request)?;
    let (offset, limit) = call.params.paging()?;
    let organization_id = call.params.int::<i64>("organization_id")?;
    let query = call.params.get("query").map(str::to_string);
    let page =
        users::list_users(&state.context, &call.caller, organization_id, query, offset, limit)
            .await?;
    let results = page.users.iter().map(|(user, used)| user_json(user, *used)).collect();
    Ok(ok200(list_json(results, page.total)))
}

fn user_changes(params: &Params) -> ApiResult<UserChanges> {
    let text = |name: &str| params.get(name).map(str::to_string);
    // An empty value clears a field that may be empty.
    let clearable = |name: &str| {
        params.get(name).map(|value| Some(value.to_string()).filter(|v| !v.trim().is_empty()))
    };
    Ok(UserChanges {
        username: text("username"),
        password: text("password").filter(|password| !password.is_empty()),
        generate_password: params.bool("generate_password", false)?,
        email: clearable("email"),
        first_name: text("first_name"),
        last_name: text("last_name"),
        organization_id: params.int("organization_id")?,
        role: text("role"),
        space_quota: params.nullable_int("space_quota")?,
        two_step_mode: text("two_step_mode"),
        mobile_phone: clearable("mobile_phone"),
        active: params.opt_bool("active")?,
        current_password: text("current_password"),
        create_root: params.opt_bool("create_root")?,
    })
}

/// The user object, plus what is shown only once (a generated password, an authenticator
/// secret).
fn user_view_json(view: &UserView) -> Value {
    let mut body = user_json(&view.user, view.space_used);
    if let Some(password) = &view.generated_password {
        body["password"] = json!(password);
    }
    if let Some(enrollment) = &view.enrollment {
        body["totp_secret"] = json!(enrollment.totp_secret);
        body["otpauth_url"] = json!(enrollment.otpauth_url);
    }
    body
}

/// The user object of the contract. It never carries the password hash or TOTP secret.
pub fn user_json(user: &UserRow, space_used: i64) -> Value {
    json!({
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "display_name": user.display_name(),
        "organization_id": user.organization_id,
        "role": user.role.as_str(),
        "active": user.active,
        "two_step_mode": user.two_step_mode.as_str(),
        "mobile_phone": user.mobile_phone,
        "space_used": space_used,
        "space_quota": user.space_quota,
        "created": user.created,
        "last_login": user.last_login,
    })
}
