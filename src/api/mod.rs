//! The HTTP interface: the whole URL table, and the handlers that speak JSON.
//!
//! Handlers are thin: they extract a [`extract::Call`], run one service call, and turn its
//! result into the wire shape with the `*_json` functions of their module. Only this module
//! knows JSON field names; only [`crate::error`] knows status codes.

pub mod account;
pub mod activity;
pub mod auth;
pub mod extract;
pub mod files;
pub mod machines;
pub mod organizations;
pub mod params;
pub mod policies;
pub mod roots;
pub mod share_page;
pub mod shares;
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
        .service(get_or_post("/1/machines", machines::list_machines))
        .service(get_or_post("/1/machines/register", machines::register_machine))
        .service(get_or_post("/1/machines/delete/{machine_id}", machines::delete_machine))
        .service(get_or_post("/1/machines/{machine_id}", machines::get_machine))
        .service(get_or_post("/1/machines/{machine_id}/checkin", machines::check_in_machine))
        // Roots. Fixed words come before the `{root_id}` patterns that would swallow them.
        .service(get_or_post("/1/roots", roots::list_roots))
        .service(get_or_post("/1/roots/create", roots::create_root))
        .service(get_or_post("/1/roots/update/{root_id}", roots::update_root))
        .service(get_or_post("/1/roots/delete/{root_id}", roots::delete_root))
        .service(get_or_post("/1/roots/{root_id}", roots::get_root))
        .service(get_or_post("/1/roots/{root_id}/members", roots::list_members))
        .service(get_or_post("/1/roots/{root_id}/members/add", roots::add_member))
        .service(get_or_post("/1/roots/{root_id}/members/remove", roots::remove_member));
    // Files and folders. A URL names a root and a path inside it; the top of a root has no
    // trailing slash once the application has trimmed it, hence two patterns each.
    for pattern in ["/1/files/{root_id}", "/1/files/{root_id}/{tail:.*}"] {
        config.service(
            web::resource(pattern)
                .route(web::get().to(CatchPanic(files::download)))
                .route(web::post().to(CatchPanic(files::upload_form)))
                .default_service(not_allowed("GET, POST")),
        );
    }
    for pattern in ["/1/files_put/{root_id}", "/1/files_put/{root_id}/{tail:.*}"] {
        config.service(
            web::resource(pattern)
                .route(web::put().to(CatchPanic(files::files_put)))
                .route(web::post().to(CatchPanic(files::files_put)))
                .default_service(not_allowed("PUT, POST")),
        );
    }
    config.service(
        web::resource("/1/chunked_upload")
            .route(web::put().to(CatchPanic(files::chunked_upload)))
            .route(web::post().to(CatchPanic(files::chunked_upload)))
            .default_service(not_allowed("PUT, POST")),
    );
    config
        .service(get_or_post("/1/commit_chunked_upload/{root_id}", files::commit_chunked_upload))
        .service(get_or_post(
            "/1/commit_chunked_upload/{root_id}/{tail:.*}",
            files::commit_chunked_upload,
        ))
        .service(get_or_post("/1/metadata/{root_id}", files::metadata))
        .service(get_or_post("/1/metadata/{root_id}/{tail:.*}", files::metadata))
        .service(get_or_post("/1/revisions/{root_id}", files::revisions))
        .service(get_or_post("/1/revisions/{root_id}/{tail:.*}", files::revisions))
        .service(get_or_post("/1/restore/{root_id}", files::restore))
        .service(get_or_post("/1/restore/{root_id}/{tail:.*}", files::restore))
        .service(get_or_post("/1/search/{root_id}", files::search))
        .service(get_or_post("/1/search/{root_id}/{tail:.*}", files::search))
        .service(get_or_post("/1/fileops/create_folder", files::create_folder))
        .service(get_or_post("/1/fileops/delete", files::delete))
        .service(get_or_post("/1/fileops/move", files::move_entry))
        .service(get_or_post("/1/fileops/copy", files::copy_entry))
        .service(get_or_post("/1/delta", files::delta))
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
    // Share links: the owner's API, then the visitor's side without a token. The stylesheet's
    // fixed path comes before the `{share_id}` routes.
    config
        .service(get_or_post("/1/shares", shares::list_shares))
        .service(get_or_post("/1/shares/create", shares::create_share))
        .service(get_or_post("/1/shares/update/{share_id}", shares::update_share))
        .service(get_or_post("/1/shares/delete/{share_id}", shares::delete_share))
        .service(get_or_post("/1/shares/{share_id}", shares::get_share))
        .service(
            web::resource("/s/_/share.css")
                .route(web::get().to(share_page::stylesheet))
                .default_service(not_allowed("GET")),
        )
        .service(
            web::resource("/s/{share_id}")
                .route(web::get().to(CatchPanic(share_page::page)))
                .route(web::post().to(CatchPanic(share_page::unlock)))
                .default_service(not_allowed("GET, POST")),
        )
        .service(get_only("/s/{share_id}/download", share_page::download))
        .service(get_only("/s/{share_id}/download/{tail:.*}", share_page::download_inside))
        .service(get_only("/s/{share_id}/zip", share_page::zip))
        .service(
            web::resource("/s/{share_id}/upload")
                .route(web::post().to(CatchPanic(share_page::upload)))
                .default_service(not_allowed("POST")),
        );
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
        .default_service(not_allowed("GET, POST"))
}

/// A resource answering only GET, and 405 to other methods.
pub fn get_only<F, Args>(path: &str, handler: F) -> Resource
where
    F: Handler<Args>,
    F::Future: 'static,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    web::resource(path)
        .route(web::get().to(CatchPanic(handler)))
        .default_service(not_allowed("GET"))
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
        .default_service(not_allowed("POST"))
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

/// The answer of a route to the methods it does not take: 405 with an `Allow` header.
fn not_allowed(allow: &'static str) -> actix_web::Route {
    web::to(move || async move { Err::<HttpResponse, ApiError>(ApiError::MethodNotAllowed(allow)) })
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

/// An id from the route's `{name}` segment. Anything but a whole number names no object, so
/// it answers 404 like a missing one, naming `what`.
pub fn path_id(request: &actix_web::HttpRequest, name: &str, what: &str) -> Result<i64, ApiError> {
    parse_id(request.match_info().get(name).unwrap_or_default(), what)
}

/// An id written in a URL: a whole number, or 404 naming `what`.
pub fn parse_id(text: &str, what: &str) -> Result<i64, ApiError> {
    text.parse().map_err(|_| ApiError::not_found(what))
}

/// The shape of every list: `{"results": [...], "total": N}`; `ok` adds `success`.
pub fn list_json(results: Vec<Value>, total: i64) -> Value {
    json!({"results": results, "total": total})
}

/// A 200 success answer.
pub fn ok200(body: Value) -> HttpResponse {
    ok(StatusCode::OK, body)
}
