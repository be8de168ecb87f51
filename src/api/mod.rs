//! The HTTP interface: the whole URL table, and the handlers that speak JSON.
//!
//! Handlers are thin: they extract a [`extract::Call`], run one service call, and turn its
//! result into the wire shape with the `*_json` functions of their module. Only this module
//! knows JSON field names; only [`crate::error`] knows status codes.

pub mod account;
pub mod activity;
pub mod auth;
pub mod extract;
pub mod listing;
pub mod organizations;
pub mod params;
pub mod policies;
pub mod users;

use std::panic::AssertUnwindSafe;

use actix_web::http::StatusCode;
use actix_web::{Either, FromRequest, Handler, HttpResponse, Resource, Responder, web};
use futures_util::FutureExt;
use futures_util::future::LocalBoxFuture;
use serde_json::{Value, json};

use crate::error::ApiError;

/// Registers every route of API v1. Paths are written without a trailing slash; the
/// application trims one from every request, so both spellings reach the same handler.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .service(post_only("/1/auth", auth::sign_in))
        .service(get_or_post("/1/auth/logout", auth::sign_out))
        .service(get_or_post("/1/account/info", account::account_info))
        .service(get_or_post("/1/policies", policies::get_policies))
        .service(get_or_post("/1/policies/update", policies::update_policies))
        // Users, organizations and the activity log. Fixed words come before the `{id}`
        // routes they would otherwise match.
        .service(get_or_post("/1/user/create", users::create_user))
        .service(get_or_post("/1/user/update/{user_id}", users::update_user))
        .service(get_or_post("/1/user/delete/{user_id}", users::delete_user))
        .service(get_or_post("/1/user/{user_id}", users::get_user))
        .service(get_or_post("/1/users", users::list_users))
        .service(get_or_post("/1/organization/create", organizations::create_organization))
        .service(get_or_post("/1/organization/update/{org_id}", organizations::update_organization))
        .service(get_or_post("/1/organization/delete/{org_id}", organizations::delete_organization))
        .service(get_or_post("/1/organization/{org_id}", organizations::get_organization))
        .service(get_or_post("/1/organizations", organizations::list_organizations))
        .service(get_or_post("/1/activity/create", activity::create_entry))
        .service(get_or_post("/1/activity/all", activity::list_all))
        .service(get_or_post("/1/activity/user/{user_id}", activity::list_for_user))
        .service(get_or_post("/1/activity/organization/{org_id}", activity::list_for_organization))
        .service(get_or_post("/1/activity/{root_id}", activity::list_for_root))
        .service(get_or_post("/1/activity/{root_id}/{path:.*}", activity::list_for_root));
}

/// A resource answering GET and POST with one handler, and 405 to other methods.
pub fn get_or_post<F, Args>(path: &str, handler: F) -> Resource
where
    F: Handler<Args>,
    F::Future: 'static,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    web::resource(path)
        .route(web::get().to(CatchPanic(handler.clone())))
        .route(web::post().to(CatchPanic(handler)))
        .default_service(web::to(method_not_allowed))
}

/// A resource answering only POST, and 405 to other methods.
pub fn post_only<F, Args>(path: &str, handler: F) -> Resource
where
    F: Handler<Args>,
    F::Future: 'static,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    web::resource(path)
        .route(web::post().to(CatchPanic(handler)))
        .default_service(web::to(method_not_allowed))
}

/// Wraps a handler so that a panic inside it answers a logged 500 instead of dropping the
/// connection. A panic is still a bug; this only keeps the client informed.
#[derive(Clone)]
pub struct CatchPanic<F>(pub F);

impl<F, Args> Handler<Args> for CatchPanic<F>
where
    F: Handler<Args>,
    F::Future: 'static,
{
    type Output = Either<F::Output, Result<HttpResponse, ApiError>>;
    type Future = LocalBoxFuture<'static, Self::Output>;

    fn call(&self, args: Args) -> Self::Future {
        let future = AssertUnwindSafe(self.0.call(args)).catch_unwind();
        Box::pin(async move {
            match future.await {
                Ok(output) => Either::Left(output),
                Err(_panic) => {
                    Either::Right(Err(ApiError::Internal(anyhow::anyhow!("a handler panicked"))))
                }
            }
        })
    }
}

async fn method_not_allowed() -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed)
}

/// The answer to a path no route matches.
pub async fn no_such_endpoint() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound("No such endpoint.".into()))
}

/// A success answer: `body` (an object) with `"success": true` added.
pub fn ok(status: StatusCode, body: Value) -> HttpResponse {
    let mut body = match body {
        Value::Object(map) => map,
        other => {
            let mut map = serde_json::Map::new();
            map.insert("value".into(), other);
            map
        }
    };
    body.insert("success".into(), json!(true));
    HttpResponse::build(status).json(Value::Object(body))
}

/// A 200 success answer.
pub fn ok200(body: Value) -> HttpResponse {
    ok(StatusCode::OK, body)
}
