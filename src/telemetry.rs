//! Logging: the subscriber set-up and the one-line-per-request log.
//!
//! A request line holds the method, the path without its query string (session tokens travel
//! there), the status, the time taken and a request id that is also sent back in the
//! `X-Request-Id` header so that a user can quote it. Nothing here may log a parameter value.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

/// The response header carrying the request id.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Installs the global subscriber: `RUST_LOG` if set, else info for this crate and warnings
/// for the libraries. Safe to call more than once (later calls do nothing).
pub fn init() {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn,cloudsync=info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    // Logs go to standard error; standard output carries only what the operator must read
    // once, such as a generated administrator password.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .try_init();
}

/// The path as logged: share-link ids are capabilities (whoever has one may download), so
/// only their first four characters are kept.
pub fn loggable_path(path: &str) -> String {
    let Some(rest) = path.strip_prefix("/s/") else {
        return path.to_string();
    };
    let (id, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let shown: String = id.chars().take(4).collect();
    format!("/s/{shown}…{tail}")
}

/// Middleware: gives each request an id and a span, and logs one line when it ends.
pub async fn log_request(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let request_id = hex::encode(rand::random::<[u8; 8]>());
    let method = request.method().to_string();
    let path = loggable_path(request.path());
    let span = tracing::info_span!("request", id = %request_id);
    let result = next.call(request).instrument(span.clone()).await;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let _entered = span.enter();
    match result {
        Ok(mut response) => {
            let status = response.status().as_u16();
            tracing::info!(%method, %path, status, elapsed_ms = format!("{elapsed_ms:.1}"), "request");
            if let Ok(value) = HeaderValue::from_str(&request_id) {
                response.headers_mut().insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
            }
            Ok(response)
        }
        Err(error) => {
            let status = error.as_response_error().status_code().as_u16();
            tracing::info!(%method, %path, status, elapsed_ms = format!("{elapsed_ms:.1}"), "request");
            Err(error)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_link_ids_are_cut_from_logged_paths() {
        assert_eq!(loggable_path("/1/account/info"), "/1/account/info");
        assert_eq!(loggable_path("/s/0123456789abcdef"), "/s/0123…");
        assert_eq!(loggable_path("/s/0123456789abcdef/download/a.txt"), "/s/0123…/download/a.txt");
        assert_eq!(loggable_path("/s/"), "/s/…");
    }
}
