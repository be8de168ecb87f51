//! Files and folders: metadata, downloads, uploads, file operations, revisions, search and
//! the delta feed.
//!
//! The root id and path of `/1/<call>/<root_id>/<path>` URLs are read from the raw request
//! path, percent-decoded exactly once here and checked by `storage::paths`; the router's own
//! decoding is not relied on.

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentDisposition, DispositionParam, DispositionType};
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::{Value, json};

use crate::api::extract::{Call, QueryCall, state};
use crate::api::params::Params;
use crate::api::{ok, ok200, parse_id};
use crate::db::entries::{EntryRow, RevisionRow};
use crate::error::{ApiError, ApiResult};
use crate::service::files::{self, MAX_FILE_LIMIT, MAX_REV_LIMIT, MetadataAnswer, WriteMode};
use crate::service::uploads;
use crate::storage::files::{human_size, read_range, receive, within_limit};
use crate::storage::paths::{SafePath, check_name};

/// The root id and path of a URL `/1/<call>/<root_id>[/<path>]`.
fn root_and_path(request: &HttpRequest, call: &str) -> ApiResult<(i64, SafePath)> {
    let raw = request.uri().path();
    let prefix = format!("/1/{call}/");
    let rest = raw.strip_prefix(&prefix).ok_or_else(|| ApiError::not_found("Root"))?;
    let (root_text, path_text) = match rest.split_once('/') {
        Some((root, path)) => (root, path),
        None => (rest, ""),
    };
    let root_id = parse_id(root_text, "Root")?;
    Ok((root_id, SafePath::parse_url(path_text)?))
}

/// A root id given as a parameter.
fn root_param(params: &Params, name: &str) -> ApiResult<i64> {
    params.int(name)?.ok_or_else(|| ApiError::missing(name))
}

/// A path given as a parameter.
fn path_param(params: &Params, name: &str) -> ApiResult<SafePath> {
    SafePath::parse(params.get(name).ok_or_else(|| ApiError::missing(name))?)
}

/// A limit parameter between 1 and `max`, or `default`.
fn limit_param(params: &Params, name: &str, default: i64, max: i64) -> ApiResult<i64> {
    match params.int::<i64>(name)? {
        None => Ok(default),
        Some(value) if (1..=max).contains(&value) => Ok(value),
        Some(_) => {
            Err(ApiError::invalid(format!("The parameter '{name}' must be between 1 and {max}.")))
        }
    }
}

fn write_mode(params: &Params) -> ApiResult<WriteMode> {
    Ok(WriteMode {
        overwrite: params.bool("overwrite", true)?,
        autorename: params.bool("autorename", true)?,
        parent_rev: params.get("parent_rev").filter(|rev| !rev.is_empty()).map(str::to_string),
    })
}

/// `/1/metadata/<root_id>/<path>`.
pub async fn metadata(request: HttpRequest, call: Call) -> ApiResult<HttpResponse> {
    let state = state(&request)?;
    let (root_id, path) = root_and_path(&request, "metadata")?;
    let params = &call.params;
    let list = params.bool("list", true)?;
    let include_deleted = params.bool("include_deleted", false)?;
    let file_limit = limit_param(params, "file_limit", 10_000, MAX_FILE_LIMIT)?;
    let known_hash = params.get("hash").filter(|hash| !hash.is_empty()).map(str::to_string);
    let answer = files::metadata(
        &state.context,
        &call.caller,
        root_id,
        path,
        list,
        include_deleted,
        file_limit,
        known_hash,
    )
    .await?;
    match answer {
        MetadataAnswer::NotModified => Ok(HttpResponse::NotModified().finish()),
        MetadataAnswer::Found(listing) => {
            let mut body = entry_json(&listing.entry);
            if let Some(contents) = &listing.contents {
                body["contents"] = contents.iter().map(entry_json).collect();
            }
            if let Some(hash) = listing.hash {
                body["hash"] = json!(hash);
            }
            Ok(ok200(body))
        }
    }
}

/// `GET /1/files/<root_id>/<path>`: the bytes of a file, whole or in a range.
pub async fn download(request: HttpRequest, call: Call) -> ApiResult<HttpResponse> {
    let state = state(&request)?;
    let (root_id, path) = root_and_path(&request, "files")?;
    let rev = call.params.get("rev").filter(|rev| !rev.is_empty()).map(str::to_string);
    let found = files::download(&state.context, &call.caller, root_id, path, rev).await?;
    send_file(&request, &found).await
}

/// Streams a found file: whole or the asked `Range` (206), with its type, name, `ETag` and
/// `If-None-Match` (304). Share links send their files through here too.
pub async fn send_file(request: &HttpRequest, found: &files::Download) -> ApiResult<HttpResponse> {
    let etag = format!("\"{}\"", found.rev);
    if let Some(wanted) = request.headers().get(header::IF_NONE_MATCH)
        && let Ok(wanted) = wanted.to_str()
        && wanted.split(',').any(|tag| {
            let tag = tag.trim().trim_start_matches("W/");
            tag == etag || tag == "*" || tag == found.rev
        })
    {
        return Ok(HttpResponse::NotModified().insert_header((header::ETAG, etag)).finish());
    }
    let size = u64::try_from(found.size).unwrap_or(0);
    let range = match request.headers().get(header::RANGE).and_then(|value| value.to_str().ok()) {
        Some(text) => match parse_range(text, size) {
            RangeAsk::Whole => None,
            RangeAsk::Part(start, end) => Some((start, end)),
            RangeAsk::Unsatisfiable => {
                return Ok(HttpResponse::build(StatusCode::RANGE_NOT_SATISFIABLE)
                    .insert_header((header::CONTENT_RANGE, format!("bytes */{size}")))
                    .json(json!({
                        "success": false,
                        "error": "invalid_request",
                        "message": format!("The range is outside the file's {size} bytes."),
                    })));
            }
        },
        None => None,
    };
    let (status, start, length) = match range {
        Some((start, end)) => (StatusCode::PARTIAL_CONTENT, start, end - start + 1),
        None => (StatusCode::OK, 0, size),
    };
    let stream = read_range(&found.disk_path, start, length).await?;
    let mime = mime_guess::from_path(&found.entry.name).first_or_octet_stream();
    let mut response = HttpResponse::build(status);
    response
        .insert_header((header::CONTENT_TYPE, mime.essence_str().to_string()))
        .insert_header((header::ETAG, etag))
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header(ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters: vec![
                DispositionParam::Filename(ascii_fallback(&found.entry.name)),
                DispositionParam::FilenameExt(header::ExtendedValue {
                    charset: header::Charset::Ext("UTF-8".into()),
                    language_tag: None,
                    value: found.entry.name.clone().into_bytes(),
                }),
            ],
        });
    if let Some((start, end)) = range {
        response.insert_header((header::CONTENT_RANGE, format!("bytes {start}-{end}/{size}")));
    }
    Ok(response.no_chunking(length).streaming(stream))
}

/// A file name for the plain `filename` parameter: non-ASCII and quotes become `_`.
fn ascii_fallback(name: &str) -> String {
    name.chars()
        .map(
            |c| {
                if c.is_ascii() && !c.is_ascii_control() && c != '"' && c != '\\' { c } else { '_' }
            },
        )
        .collect()
}

enum RangeAsk {
    Whole,
    Part(u64, u64),
    Unsatisfiable,
}

/// Reads a `Range` header with one range. Forms the server does not serve (several ranges,
/// other units) are answered with the whole file, as HTTP allows.
fn parse_range(text: &str, size: u64) -> RangeAsk {
    let Some(spec) = text.trim().strip_prefix("bytes=") else { return RangeAsk::Whole };
    if spec.contains(',') {
        return RangeAsk::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else { return RangeAsk::Whole };
    let (first, last) = (first.trim(), last.trim());
    let range = if first.is_empty() {
        match last.parse::<u64>() {
            Ok(0) => return RangeAsk::Unsatisfiable,
            Ok(suffix) => (size.saturating_sub(suffix), size.saturating_sub(1)),
            Err(_) => return RangeAsk::Whole,
        }
    } else {
        let Ok(start) = first.parse::<u64>() else { return RangeAsk::Whole };
        let end = if last.is_empty() {
            size.saturating_sub(1)
        } else {
            match last.parse::<u64>() {
                Ok(end) if end >= start => end.min(size.saturating_sub(1)),
                _ => return RangeAsk::Whole,
            }
        };
        (start, end)
    };
    if size == 0 || range.0 >= size {
        return RangeAsk::Unsatisfiable;
    }
    RangeAsk::Part(range.0, range.1)
}

/// The size the client announced, if any.
fn declared_length(request: &HttpRequest) -> Option<u64> {
    request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.parse().ok())
}

/// `PUT`/`POST /1/files_put/<root_id>/<path>`: the body is the file.
pub async fn files_put(
    request: HttpRequest,
    call: QueryCall,
    body: web::Payload,
) -> ApiResult<HttpResponse> {
    let state = state(&request)?;
    let (root_id, path) = root_and_path(&request, "files_put")?;
    if path.is_top() {
        return Err(ApiError::invalid("The path must name a file, not the top of the root."));
    }
    let mode = write_mode(&call.params)?;
    let limit = state.config.max_upload_bytes;
    let declared = declared_length(&request);
    if let Some(declared) = declared {
        within_limit(declared, limit)?;
    }
    let declared = declared.and_then(|bytes| i64::try_from(bytes).ok());
    files::check_upload(&state.context, &call.caller, root_id, Some(path.clone()), declared)
        .await?;
    let received = receive(&state.context.data_dir, body, limit).await?;
    let entry =
        files::store_upload(&state.context, &call.caller, root_id, path, received, mode).await?;
    Ok(ok(StatusCode::CREATED, entry_json(&entry)))
}

/// `POST /1/files/<root_id>/<folder>`: a `multipart/form-data` upload of parts named `file`.
pub async fn upload_form(
    request: HttpRequest,
    call: QueryCall,
    body: web::Payload,
) -> ApiResult<HttpResponse> {
    let state = state(&request)?;
    let (root_id, folder) = root_and_path(&request, "files")?;
    let mode = write_mode(&call.params)?;
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if !content_type.starts_with("multipart/form-data") {
        return Err(ApiError::invalid(
            "An upload to a folder must be a multipart/form-data body with parts named 'file'.",
        ));
    }
    let limit = state.config.max_upload_bytes;
    files::check_upload(&state.context, &call.caller, root_id, None, None).await?;
    let mut multipart = Multipart::new(request.headers(), body.into_inner());
    let mut results = Vec::new();
    while let Some(field) = multipart.next().await {
        let mut field = field.map_err(|error| {
            ApiError::invalid(format!("The multipart body is malformed: {error}"))
        })?;
        let file_name = field
            .content_disposition()
            .and_then(|disposition| disposition.get_filename())
            .map(str::to_string);
        if field.name() != Some("file") {
            // Other parts (a form's submit button, say) are read past.
            while let Some(chunk) = field.next().await {
                chunk.map_err(|error| {
                    ApiError::invalid(format!("The multipart body is malformed: {error}"))
                })?;
            }
            continue;
        }
        let file_name = file_name
            .filter(|name| !name.is_empty())
            .ok_or_else(|| ApiError::invalid("Every part named 'file' needs a file name."))?;
        let target = folder.join(&check_name(&file_name)?)?;
        let received = receive(&state.context.data_dir, &mut field, limit).await?;
        let entry = files::store_upload(
            &state.context,
            &call.caller,
            root_id,
            target,
            received,
            mode.clone(),
        )
        .await?;
        results.push(entry_json(&entry));
    }
    if results.is_empty() {
        return Err(ApiError::invalid("The upload has no part named 'file'."));
    }
    Ok(ok(StatusCode::CREATED, json!({"total": results.len(), "results": results})))
}

/// `PUT /1/chunked_upload/`: the body is the next chunk of an upload.
pub async fn chunked_upload(
    request: HttpRequest,
    call: QueryCall,
    body: web::Payload,
) -> ApiResult<HttpResponse> {
    let state = state(&request)?;
    let upload_id =
        call.params.get("upload_id").map(str::trim).filter(|id| !id.is_empty()).map(str::to_string);
    let offset = call.params.int::<i64>("offset")?;
    let limit = state.config.max_upload_bytes;
    let chunk = receive(&state.context.data_dir, body, limit).await?;
    let chunk_state =
        uploads::append_chunk(&state.context, &call.caller, upload_id, offset, chunk, limit)
            .await?;
    Ok(ok200(json!({
        "upload_id": chunk_state.upload_id,
        "offset": chunk_state.offset,
        "expires": chunk_state.expires,
    })))
}

/// `/1/commit_chunked_upload/<root_id>/<path>`.
pub async fn commit_chunked_upload(request: HttpRequest, call: Call) -> ApiResult<HttpResponse> {
    let state = state(&request)?;
    let (root_id, path) = root_and_path(&request, "commit_chunked_upload")?;
    if path.is_top() {
        return Err(ApiError::invalid("The path must name a file, not the top of the root."));
    }
    let upload_id = call.params.required("upload_id")?.trim().to_string();
    let mode = write_mode(&call.params)?;
    let entry =
        uploads::commit_chunked(&state.context, &call.caller, root_id, path, upload_id, mode)
            .await?;
    Ok(ok(StatusCode::CREATED, entry_json(&entry)))
}

/// `/1/fileops/create_folder/`.
pub async fn create_folder(request: HttpRequest, call: Call) -> ApiResult<HttpResponse> {
    let state = state(&request)?;
    let root_id = root_param(&call.params, "root")?;
    let path = path_param(&call.params, "path")?;
    let entry = files::create_folder(&state.context, &call.caller, root_id, path).await?;
    Ok(ok(StatusCode::CREATED, entry_json(&entry)))
}

/// `/1/fileops/delete/`.
pub async fn delete(request: HttpRequest, call: Call) -> ApiResult<HttpResponse> {
    let state = state(&request)?;
    let root_id = root_param(&call.params, "root")?;
    let path = path_param(&call.params, "path")?;
    let entry = files::delete(&state.context, &call.caller, root_id, path).await?;
    Ok(ok200(entry_json(&entry)))
}

/// `/1/fileops/move/`.
pub async fn move_entry(request: HttpRequest, call: Call) -> ApiResult<HttpResponse> {
    let state = state(&request)?;
    let (from_root, from, to_root, to) = move_params(&call.params)?;
    let entry =
        files::move_entry(&state.context, &call.caller, from_root, from, to_root, to).await?;
    Ok(ok200(entry_json(&entry)))
}

/// `/1/fileops/copy/`.
pub async fn copy_entry(request: HttpRequest, call: Call) -> ApiResult<HttpResponse> {
    let state = state(&request)?;
    let (from_root, from, to_root, to) = move_params(&call.params)?;
    let entry =
        files::copy_entry(&state.context, &call.caller, from_root, from, to_root, to).await?;
    Ok(ok200(entry_json(&entry)))
}

fn move_params(params: &Params) -> ApiResult<(i64, SafePath, i64, SafePath)> {
    let from_root = root_param(params, "root")?;
    let to_root = params.int("to_root")?.unwrap_or(from_root);
    Ok((from_root, path_param(params, "from_path")?, to_root, path_param(params, "to_path")?))
}

/// `/1/revisions/<root_id>/<path>`.
pub async fn revisions(request: HttpRequest, call: Call) -> ApiResult<HttpResponse> {
    let state = state(&request)?;
    let (root_id, path) = root_and_path(&request, "revisions")?;
    let limit = limit_param(&call.params, "rev_limit", 10, MAX_REV_LIMIT)?;
    let (entry, versions) =
        files::revisions(&state.context, &call.caller, root_id, path, limit).await?;
    let results: Vec<Value> =
        versions.iter().map(|version| revision_json(&entry, version)).collect();
    Ok(ok200(json!({"total": results.len(), "results": results})))
}

/// `/1/restore/<root_id>/<path>`.
pub async fn restore(request: HttpRequest, call: Call) -> ApiResult<HttpResponse> {
    let state = state(&request)?;
    let (root_id, path) = root_and_path(&request, "restore")?;
    let rev = call.params.required("rev")?.trim().to_string();
    let entry = files::restore(&state.context, &call.caller, root_id, path, rev).await?;
    Ok(ok200(entry_json(&entry)))
}

/// `/1/search/<root_id>/<path>`.
pub async fn search(request: HttpRequest, call: Call) -> ApiResult<HttpResponse> {
    let state = state(&request)?;
    let (root_id, path) = root_and_path(&request, "search")?;
    let query = call.params.required("query")?.trim().to_string();
    let limit = limit_param(&call.params, "file_limit", 1000, MAX_FILE_LIMIT)?;
    let include_deleted = call.params.bool("include_deleted", false)?;
    let found =
        files::search(&state.context, &call.caller, root_id, path, query, limit, include_deleted)
            .await?;
    let results: Vec<Value> = found.iter().map(entry_json).collect();
    Ok(ok200(json!({"total": results.len(), "results": results})))
}

/// `/1/delta/`.
pub async fn delta(request: HttpRequest, call: Call) -> ApiResult<HttpResponse> {
    let state = state(&request)?;
    let root_id = root_param(&call.params, "root")?;
    let cursor = call.params.get("cursor").filter(|cursor| !cursor.is_empty()).map(str::to_string);
    let page = files::delta(&state.context, &call.caller, root_id, cursor).await?;
    // A sync client reads large trees through this feed: the answer is serialized straight
    // from the rows, without building a JSON map per entry first.
    let entries = page
        .entries
        .iter()
        .map(|entry| {
            (entry.path_key.as_str(), (!entry.is_deleted).then(|| EntryMetadata::of(entry)))
        })
        .collect();
    Ok(HttpResponse::Ok().json(DeltaAnswer {
        success: true,
        entries,
        cursor: &page.cursor,
        has_more: page.has_more,
        reset: page.reset,
    }))
}

/// The answer of `/1/delta/`.
#[derive(Serialize)]
struct DeltaAnswer<'a> {
    success: bool,
    entries: Vec<(&'a str, Option<EntryMetadata<'a>>)>,
    cursor: &'a str,
    has_more: bool,
    reset: bool,
}

/// The metadata object of a file or folder, as the wire shows it.
#[derive(Serialize)]
pub struct EntryMetadata<'a> {
    root_id: i64,
    path: &'a str,
    name: &'a str,
    is_dir: bool,
    is_deleted: bool,
    bytes: i64,
    size: String,
    modified: &'a str,
    rev: &'a str,
    /// Files only.
    #[serde(skip_serializing_if = "Option::is_none")]
    mime_type: Option<String>,
    /// Files only: the SHA-256 of the content.
    #[serde(skip_serializing_if = "Option::is_none")]
    content_hash: Option<&'a str>,
}

impl<'a> EntryMetadata<'a> {
    /// The metadata of an index row.
    pub fn of(entry: &'a EntryRow) -> EntryMetadata<'a> {
        let file = !entry.is_dir;
        EntryMetadata {
            root_id: entry.root_id,
            path: &entry.path,
            name: &entry.name,
            is_dir: entry.is_dir,
            is_deleted: entry.is_deleted,
            bytes: entry.size,
            size: human_size(entry.size),
            modified: &entry.modified,
            rev: &entry.rev,
            mime_type: file.then(|| {
                mime_guess::from_path(&entry.name).first_or_octet_stream().essence_str().to_string()
            }),
            content_hash: if file { entry.content_hash.as_deref() } else { None },
        }
    }
}

/// The metadata object of a file or folder, as a JSON value to add fields to.
pub fn entry_json(entry: &EntryRow) -> Value {
    serde_json::to_value(EntryMetadata::of(entry)).unwrap_or(Value::Null)
}

fn revision_json(entry: &EntryRow, version: &RevisionRow) -> Value {
    let is_live = !entry.is_deleted && version.rev == entry.rev;
    json!({
        "root_id": entry.root_id,
        "path": entry.path,
        "name": entry.name,
        "is_dir": false,
        "is_deleted": !is_live && entry.is_deleted,
        "bytes": version.size,
        "size": human_size(version.size),
        "modified": version.modified,
        "rev": version.rev,
        "mime_type": mime_guess::from_path(&entry.name).first_or_octet_stream().essence_str(),
        "content_hash": version.content_hash,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let check = |text: &str, size: u64| match parse_range(text, size) {
            RangeAsk::Whole => "whole".to_string(),
            RangeAsk::Part(start, end) => format!("{start}-{end}"),
            RangeAsk::Unsatisfiable => "416".to_string(),
        };
        assert_eq!(check("bytes=0-9", 100), "0-9");
        assert_eq!(check("bytes=90-", 100), "90-99");
        assert_eq!(check("bytes=-10", 100), "90-99");
        assert_eq!(check("bytes=50-500", 100), "50-99");
        assert_eq!(check("bytes=100-", 100), "416");
        assert_eq!(check("bytes=0-1,5-6", 100), "whole");
        assert_eq!(check("items=0-1", 100), "whole");
        assert_eq!(check("bytes=9-1", 100), "whole");
        assert_eq!(check("bytes=0-", 0), "416");
    }
}
