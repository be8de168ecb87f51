//! The admin web page: static files embedded in the binary, served at `/admin/`.
//!
//! The page is a client of the public API like any other; this module only serves its files,
//! with a strict Content-Security-Policy so that no inline script or style runs.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use rust_embed::RustEmbed;

use crate::error::ApiError;

#[derive(RustEmbed)]
#[folder = "static/"]
struct Assets;

/// The security headers of every admin page response.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
     form-action 'self'";

/// Registers `/admin` and the files below it.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/admin", web::get().to(serve_asset))
        .route("/admin/{file:.*}", web::get().to(serve_asset));
}

async fn serve_asset(request: HttpRequest) -> Result<HttpResponse, ApiError> {
    let file = request.match_info().get("file").unwrap_or("");
    let file = if file.is_empty() { "index.html" } else { file };
    let asset = Assets::get(file).ok_or_else(|| ApiError::NotFound("No such page.".into()))?;
    let mime = mime_guess::from_path(file).first_or_octet_stream();
    let cache = if file.ends_with(".html") { "no-store" } else { "public, max-age=300" };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, mime.as_ref()))
        .insert_header((header::CACHE_CONTROL, cache))
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .body(asset.data.into_owned()))
}
