//! `/1/shares/`: share links as their makers and administrators manage them.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Value, json};

use crate::api::extract::{Call, state};
use crate::api::params::Params;
use crate::api::{ok, ok200};
use crate::db::shares::ShareRow;
use crate::error::{ApiError, ApiResult};
use crate::service::shares::{self, NewShare, ShareChanges, ShareFilter};
use crate::storage::paths::SafePath;

/// `/1/shares/create/`: `root`, `path`, `password`, `expires`, `download_limit`,
/// `allow_upload`.
pub async fn create_share(request: HttpRequest, call: Call) -> ApiResult<HttpResponse> {
    let state = state(&request)?;
    let params = &call.params;
    let input = NewShare {
        root_id: params.int("root")?.ok_or_else(|| ApiError::missing("root"))?,
        path: SafePath::parse(params.required("path")?)?,
        password: params.get("password").map(str::to_string),
        expires: params.get("expires").map(str::to_string),
        download_limit: params.int("download_limit")?,
        allow_upload: params.bool("allow_upload", false)?,
    };
    let share = shares::create(&state.context, &call.caller, input).await?;
    Ok(ok(StatusCode::CREATED, share_json(&share, &state.public_url)))
}

/// `/1/shares/`: the caller's links; admins may name `user_id` or `organization_id`.
pub async fn list_shares(request: HttpRequest, call: Call) -> ApiResult<HttpResponse> {
    let state = state(&request)?;
    let (offset, limit) = call.params.paging()?;
    let filter = ShareFilter {
        user_id: call.params.int("user_id")?,
        organization_id: call.params.int("organization_id")?,
        offset,
        limit,
    };
    let (found, total) = shares::list(&state.context, &call.caller, filter).await?;
    let results: Vec<Value> =
        found.iter().map(|share| share_json(share, &state.public_url)).collect();
    Ok(ok200(json!({"results": results, "total": total})))
}

/// `/1/shares/<id>/`.
pub async fn get_share(request: HttpRequest, call: Call) -> ApiResult<HttpResponse> {
    let state = state(&request)?;
    let share = shares::get(&state.context, &call.caller, share_id(&request)).await?;
    Ok(ok200(share_json(&share, &state.public_url)))
}

/// `/1/shares/update/<id>/`: `password` (empty removes it), `expires` (empty removes it),
/// `download_limit` (empty removes it), `allow_upload`.
pub async fn update_share(request: HttpRequest, call: Call) -> ApiResult<HttpResponse> {
    let state = state(&request)?;
    let changes = changes(&call.params)?;
    let share = shares::update(&state.context, &call.caller, share_id(&request), changes).await?;
    Ok(ok200(share_json(&share, &state.public_url)))
}

/// `/1/shares/delete/<id>/`.
pub async fn delete_share(request: HttpRequest, call: Call) -> ApiResult<HttpResponse> {
    let state = state(&request)?;
    shares::delete(&state.context, &call.caller, share_id(&request)).await?;
    Ok(ok200(json!({})))
}

fn changes(params: &Params) -> ApiResult<ShareChanges> {
    let expires = params.get("expires").map(|text| {
        let text = text.trim();
        (!text.is_empty() && text != "null").then(|| text.to_string())
    });
    Ok(ShareChanges {
        password: params.get("password").map(str::to_string),
        expires,
        download_limit: params.nullable_int("download_limit")?,
        allow_upload: params.opt_bool("allow_upload")?,
    })
}

fn share_id(request: &HttpRequest) -> String {
    request.match_info().get("share_id").unwrap_or_default().to_string()
}

/// The link object. The password hash never leaves the server; `has_password` says whether
/// there is one.
pub fn share_json(share: &ShareRow, public_url: &str) -> Value {
    json!({
        "id": share.id,
        "url": format!("{public_url}/s/{}", share.id),
        "root_id": share.root_id,
        "path": share.path,
        "is_dir": share.is_dir,
        "created": share.created,
        "created_by": share.created_by,
        "expires": share.expires,
        "download_limit": share.download_limit,
        "download_count": share.download_count,
        "has_password": share.password_hash.is_some(),
        "allow_upload": share.allow_upload,
    })
}
