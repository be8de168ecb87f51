//! Request parameters from the query string and from form bodies.
//!
//! Every endpoint takes its parameters from the query string, an urlencoded body or a
//! multipart body alike. Decoding is strict: a broken percent escape or bytes that are not
//! UTF-8 answer 400 naming the parameter, rather than being silently replaced.

use std::str::FromStr;

use actix_multipart::Multipart;
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest};
use futures_util::StreamExt;
use futures_util::future::LocalBoxFuture;

use crate::error::{ApiError, ApiResult};

/// The largest form body (urlencoded or multipart without files) the server reads.
pub const FORM_LIMIT_BYTES: usize = 1024 * 1024;

/// Named parameters of one request. A name given twice keeps its last value; a body value
/// wins over a query value.
#[derive(Debug, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Parameters from a query string.
    pub fn from_query(query: &str) -> ApiResult<Params> {
        Params::from_urlencoded(query.as_bytes())
    }

    /// Parameters from `application/x-www-form-urlencoded` bytes (a query string or a body).
    pub fn from_urlencoded(bytes: &[u8]) -> ApiResult<Params> {
        let mut params = Params::default();
        parse_urlencoded(bytes, &mut params.pairs)?;
        Ok(params)
    }

    /// The raw value of a parameter, if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().rev().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    /// A parameter that must be present and not empty.
    pub fn required(&self, name: &str) -> ApiResult<&str> {
        match self.get(name) {
            Some(value) if !value.trim().is_empty() => Ok(value),
            _ => Err(ApiError::missing(name)),
        }
    }

    /// A boolean (`true`/`false`/`1`/`0`), or `default` when absent or empty.
    pub fn bool(&self, name: &str, default: bool) -> ApiResult<bool> {
        match self.get(name).map(str::trim) {
            None | Some("") => Ok(default),
            Some(value) => parse_bool(value).ok_or_else(|| {
                ApiError::invalid(format!("The parameter '{name}' must be true or false."))
            }),
        }
    }

    /// An optional boolean: `None` when absent or empty.
    pub fn opt_bool(&self, name: &str) -> ApiResult<Option<bool>> {
        match self.get(name).map(str::trim) {
            None | Some("") => Ok(None),
            Some(_) => self.bool(name, false).map(Some),
        }
    }

    /// An optional whole number: `None` when absent or empty.
    pub fn int<T: FromStr>(&self, name: &str) -> ApiResult<Option<T>> {
        match self.get(name).map(str::trim) {
            None | Some("") => Ok(None),
            Some(value) => value.parse().map(Some).map_err(|_| {
                ApiError::invalid(format!("The parameter '{name}' must be a whole number."))
            }),
        }
    }

    /// An optional limit where empty or `null` means "no limit": `None` when absent,
    /// `Some(None)` to clear, `Some(Some(n))` to set.
    pub fn nullable_int(&self, name: &str) -> ApiResult<Option<Option<i64>>> {
        match self.get(name).map(str::trim) {
            None => Ok(None),
            Some("" | "null") => Ok(Some(None)),
            Some(_) => self.int(name).map(Some),
        }
    }
}

/// The page size of a listing when the client gives no `limit`.
pub const DEFAULT_LIMIT: i64 = 100;
/// The largest page a client may ask for.
pub const MAX_LIMIT: i64 = 1000;

impl Params {
    /// `offset` (default 0) and `limit` (default 100, at most 1000) of a listing.
    pub fn paging(&self) -> ApiResult<(i64, i64)> {
        let offset = self.int::<i64>("offset")?.unwrap_or(0);
        if offset < 0 {
            return Err(ApiError::invalid("The parameter 'offset' must not be negative."));
        }
        let limit = self.int::<i64>("limit")?.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::invalid(format!(
                "The parameter 'limit' must be a whole number from 1 to {MAX_LIMIT}."
            )));
        }
        Ok((offset, limit))
    }
}

/// Reads `true`/`false`/`1`/`0`.
pub fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

impl FromRequest for Params {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Params, ApiError>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let query = Params::from_query(request.query_string());
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let headers = request.headers().clone();
        let mut payload = payload.take();
        Box::pin(async move {
            let mut params = query?;
            if content_type.starts_with("application/x-www-form-urlencoded") {
                let body = read_limited(&mut payload).await?;
                parse_urlencoded(&body, &mut params.pairs)?;
            } else if content_type.starts_with("multipart/form-data") {
                read_multipart_fields(Multipart::new(&headers, payload), &mut params.pairs).await?;
            }
            Ok(params)
        })
    }
}

async fn read_limited(payload: &mut Payload) -> ApiResult<Vec<u8>> {
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|error| ApiError::invalid(format!("The body is unreadable: {error}")))?;
        if body.len() + chunk.len() > FORM_LIMIT_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

async fn read_multipart_fields(
    mut multipart: Multipart,
    pairs: &mut Vec<(String, String)>,
) -> ApiResult<()> {
    let mut total = 0usize;
    while let Some(field) = multipart.next().await {
        let mut field = field.map_err(|error| {
            ApiError::invalid(format!("The multipart body is malformed: {error}"))
        })?;
        let name = field.name().unwrap_or_default().to_string();
        let mut value = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|error| {
                ApiError::invalid(format!("The multipart body is malformed: {error}"))
            })?;
            total += chunk.len();
            if total > FORM_LIMIT_BYTES {
                return Err(too_large());
            }
            value.extend_from_slice(&chunk);
        }
        let value = String::from_utf8(value).map_err(|_| not_utf8(&name))?;
        pairs.push((name, value));
    }
    Ok(())
}

fn too_large() -> ApiError {
    ApiError::TooLarge(format!("The form body is larger than {FORM_LIMIT_BYTES} bytes."))
}

fn not_utf8(name: &str) -> ApiError {
    ApiError::invalid(format!("The parameter '{name}' is not valid UTF-8."))
}

/// Parses `a=1&b=2` strictly into `pairs`.
fn parse_urlencoded(input: &[u8], pairs: &mut Vec<(String, String)>) -> ApiResult<()> {
    for piece in input.split(|byte| *byte == b'&') {
        if piece.is_empty() {
            continue;
        }
        let (raw_key, raw_value) = match piece.iter().position(|byte| *byte == b'=') {
            Some(at) => (&piece[..at], &piece[at + 1..]),
            None => (piece, &[][..]),
        };
        let key = decode_component(raw_key).map_err(|problem| match problem {
            Problem::Escape => ApiError::invalid("A parameter name has a broken percent escape."),
            Problem::Utf8 => ApiError::invalid("A parameter name is not valid UTF-8."),
        })?;
        let value = decode_component(raw_value).map_err(|problem| match problem {
            Problem::Escape => {
                ApiError::invalid(format!("The parameter '{key}' has a broken percent escape."))
            }
            Problem::Utf8 => not_utf8(&key),
        })?;
        pairs.push((key, value));
    }
    Ok(())
}

enum Problem {
    Escape,
    Utf8,
}

fn decode_component(raw: &[u8]) -> Result<String, Problem> {
    let mut bytes = Vec::with_capacity(raw.len());
    let mut index = 0;
    while index < raw.len() {
        match raw[index] {
            b'+' => bytes.push(b' '),
            b'%' => {
                let high = raw.get(index + 1).and_then(|b| (*b as char).to_digit(16));
                let low = raw.get(index + 2).and_then(|b| (*b as char).to_digit(16));
                let (Some(high), Some(low)) = (high, low) else {
                    return Err(Problem::Escape);
                };
                bytes.push((high * 16 + low) as u8);
                index += 2;
            }
            other => bytes.push(other),
        }
        index += 1;
    }
    String::from_utf8(bytes).map_err(|_| Problem::Utf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_decode_strictly() {
        let params = Params::from_query("a=1&b=hello+world&c=%C3%A9&a=2&flag").unwrap();
        assert_eq!(params.get("a"), Some("2"));
        assert_eq!(params.get("b"), Some("hello world"));
        assert_eq!(params.get("c"), Some("é"));
        assert_eq!(params.get("flag"), Some(""));
        assert_eq!(params.get("missing"), None);

        let broken = Params::from_query("name=%zz").unwrap_err().to_string();
        assert!(broken.contains("'name'") && broken.contains("percent"), "{broken}");
        let truncated = Params::from_query("name=abc%4").unwrap_err().to_string();
        assert!(truncated.contains("percent"), "{truncated}");
        let bad_utf8 = Params::from_query("name=%FF%FE").unwrap_err().to_string();
        assert!(bad_utf8.contains("'name'") && bad_utf8.contains("UTF-8"), "{bad_utf8}");
    }

    #[test]
    fn typed_readers_name_the_parameter() {
        let params = Params::from_query("n=12&x=twelve&t=TRUE&f=0&q=&z=null").unwrap();
        assert_eq!(params.int::<i64>("n").unwrap(), Some(12));
        assert!(params.int::<i64>("x").unwrap_err().to_string().contains("'x'"));
        assert!(params.bool("t", false).unwrap());
        assert!(!params.bool("f", true).unwrap());
        assert!(params.bool("absent", true).unwrap());
        assert!(params.bool("x", true).unwrap_err().to_string().contains("'x'"));
        assert_eq!(params.nullable_int("q").unwrap(), Some(None));
        assert_eq!(params.nullable_int("z").unwrap(), Some(None));
        assert_eq!(params.nullable_int("n").unwrap(), Some(Some(12)));
        assert_eq!(params.nullable_int("absent").unwrap(), None);
        assert!(params.required("q").is_err());
    }
}
