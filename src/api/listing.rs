//! Paged lists: the `offset` and `limit` parameters, path ids, and the list answer shape.

use actix_web::HttpRequest;
use serde_json::{Value, json};

use crate::api::params::Params;
use crate::error::{ApiError, ApiResult};

/// The page size when the client gives no `limit`.
pub const DEFAULT_LIMIT: i64 = 100;
/// The largest page a client may ask for.
pub const MAX_LIMIT: i64 = 1000;

/// `offset` (default 0) and `limit` (default 100, 1 to 1000), naming a bad one.
pub fn paging(params: &Params) -> ApiResult<(i64, i64)> {
    let offset = params.int::<i64>("offset")?.unwrap_or(0);
    if offset < 0 {
        return Err(ApiError::invalid("The parameter 'offset' must be 0 or more."));
    }
    let limit = params.int::<i64>("limit")?.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid(format!(
            "The parameter 'limit' must be a whole number from 1 to {MAX_LIMIT}."
        )));
    }
    Ok((offset, limit))
}

/// `{"results": [...], "total": N}`; `ok` adds `success`.
pub fn list_json(results: Vec<Value>, total: i64) -> Value {
    json!({"results": results, "total": total})
}

/// An integer id from the URL, e.g. `{user_id}`: 404 naming `what` when it is not a number,
/// since no such object can exist.
pub fn path_id(request: &HttpRequest, name: &str, what: &str) -> ApiResult<i64> {
    request
        .match_info()
        .get(name)
        .and_then(|text| text.parse::<i64>().ok())
        .ok_or_else(|| ApiError::not_found(what))
}
