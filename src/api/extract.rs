//! Extractors that turn a request into a caller and its parameters.
//!
//! [`Call`] reads the parameters (query and form body) and authenticates the session token,
//! which may come as `Authorization: Bearer`, or as the `session_token` parameter. Endpoints
//! whose body is file content use [`QueryCall`], which reads only the query string and leaves
//! the body to the handler.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;

use crate::api::params::Params;
use crate::app::AppState;
use crate::domain::Caller;
use crate::error::{ApiError, ApiResult};
use crate::service::auth;

/// The name of the token parameter, fixed by the contract.
pub const TOKEN_PARAMETER: &str = "session_token";

/// An authenticated request: who calls, and with which parameters.
#[derive(Debug)]
pub struct Call {
    pub caller: Caller,
    pub params: Params,
}

/// An authenticated request whose body is left unread (file uploads).
#[derive(Debug)]
pub struct QueryCall {
    pub caller: Caller,
    pub params: Params,
}

impl FromRequest for Call {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Call, ApiError>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let params = Params::from_request(request, payload);
        let request = request.clone();
        Box::pin(async move {
            let params = params.await?;
            let caller = authenticate(&request, &params).await?;
            Ok(Call { caller, params })
        })
    }
}

impl FromRequest for QueryCall {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<QueryCall, ApiError>>;

    fn from_request(request: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let request = request.clone();
        Box::pin(async move {
            let params = Params::from_query(request.query_string())?;
            let caller = authenticate(&request, &params).await?;
            Ok(QueryCall { caller, params })
        })
    }
}

/// The application state of a request.
pub fn state(request: &HttpRequest) -> ApiResult<web::Data<AppState>> {
    request
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("application state missing")))
}

/// The client's address as seen on the socket. Forwarding headers are not trusted: any
/// client could write them and so escape the per-address sign-in limit.
pub fn client_ip(request: &HttpRequest) -> String {
    request.peer_addr().map(|address| address.ip().to_string()).unwrap_or_default()
}

async fn authenticate(request: &HttpRequest, params: &Params) -> ApiResult<Caller> {
    let state = state(request)?;
    let token = bearer_token(request)?.or_else(|| params.get(TOKEN_PARAMETER).map(str::to_string));
    let token = match token {
        Some(token) if !token.trim().is_empty() => token,
        _ => {
            return Err(ApiError::Unauthorized(
                "A session token is required: sign in at /1/auth/ and send it as the \
                 session_token parameter or an Authorization: Bearer header."
                    .into(),
            ));
        }
    };
    auth::authenticate(&state.context, token.trim(), &client_ip(request)).await
}

fn bearer_token(request: &HttpRequest) -> ApiResult<Option<String>> {
    let Some(value) = request.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| ApiError::Unauthorized("The Authorization header is not readable.".into()))?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
            Ok(Some(token.trim().to_string()))
        }
        _ => Err(ApiError::Unauthorized(
            "The Authorization header must be 'Bearer <session token>'.".into(),
        )),
    }
}
