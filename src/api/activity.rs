//! `/1/activity/...`: reading the activity log by scope, downloading it as CSV or JSON lines,
//! and writing custom entries.

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_DISPOSITION, HeaderValue};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse};
use percent_encoding::percent_decode_str;
use serde_json::{Value, json};

use crate::api::extract::{Call, state};
use crate::api::{list_json, path_id};
use crate::api::{ok, ok200};
use crate::db::activity::ActivityRow;
use crate::error::{ApiError, ApiResult};
use crate::service::Context;
use crate::service::activity::{self, CustomEntry, Export, Filters, Scope};

/// `/1/activity/all/`: the whole log (system admins).
pub async fn list_all(request: HttpRequest, call: Call) -> ApiResult<HttpResponse> {
    read_scope(&request, call, Scope::All, "all".into()).await
}

/// `/1/activity/user/<user_id>/`: what a user did and what was done to them.
pub async fn list_for_user(request: HttpRequest, call: Call) -> ApiResult<HttpResponse> {
    let user_id = path_id(&request, "user_id", "User")?;
    read_scope(&request, call, Scope::User(user_id), format!("user-{user_id}")).await
}

/// `/1/activity/organization/<org_id>/`: an organization and those below it.
pub async fn list_for_organization(request: HttpRequest, call: Call) -> ApiResult<HttpResponse> {
    let org_id = path_id(&request, "org_id", "Organization")?;
    read_scope(&request, call, Scope::Organization(org_id), format!("organization-{org_id}")).await
}

/// `/1/activity/<root_id>/<path>`: a root, or a folder or file inside it.
pub async fn list_for_root(request: HttpRequest, call: Call) -> ApiResult<HttpResponse> {
    let root_id = path_id(&request, "root_id", "Root")?;
    // The path is decoded here, strictly and once, from the raw URL (`/1/activity/<root>/…`):
    // the router's own decoding would replace bytes that are not UTF-8 instead of refusing.
    let raw = request.uri().path().splitn(5, '/').nth(4).unwrap_or_default();
    let path = percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| ApiError::invalid("The path in the URL is not valid UTF-8."))?
        .into_owned();
    read_scope(&request, call, Scope::Root { root_id, path }, format!("root-{root_id}")).await
}

/// `/1/activity/create/`: an administrator's own `custom.*` entry (201).
pub async fn create_entry(request: HttpRequest, call: Call) -> ApiResult<HttpResponse> {
    let state = state(&request)?;
    let params = &call.params;
    let entry = CustomEntry {
        action: params.required("action")?.to_string(),
        details: params.get("details").map(str::to_string),
        root_id: params.int("root_id")?,
        path: params.get("path").filter(|path| !path.is_empty()).map(str::to_string),
        target_user_id: params.int("target_user_id")?,
        organization_id: params.int("organization_id")?,
    };
    let row = activity::create_custom_entry(&state.context, &call.caller, entry).await?;
    Ok(ok(StatusCode::CREATED, entry_json(&row)))
}

/// How a read is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    /// A page of JSON (the default).
    Json,
    /// The whole range as a CSV download.
    Csv,
    /// The whole range as JSON lines.
    Jsonl,
}

async fn read_scope(
    request: &HttpRequest,
    call: Call,
    scope: Scope,
    label: String,
) -> ApiResult<HttpResponse> {
    let state = state(request)?;
    let params = &call.params;
    let format = match params.get("format").map(str::trim) {
        None | Some("" | "json") => Format::Json,
        Some("csv") => Format::Csv,
        Some("jsonl") => Format::Jsonl,
        Some(_) => {
            return Err(ApiError::invalid("The parameter 'format' must be json, csv or jsonl."));
        }
    };
    let filters = Filters {
        since: params.get("since").filter(|v| !v.trim().is_empty()).map(str::to_string),
        until: params.get("until").filter(|v| !v.trim().is_empty()).map(str::to_string),
        action: params.get("action").map(str::to_string),
        user_id: params.int("user_id")?,
    };
    if format == Format::Json {
        let (offset, limit) = params.paging()?;
        let page = activity::list_activity_page(
            &state.context,
            &call.caller,
            scope,
            filters,
            offset,
            limit,
        )
        .await?;
        let results = page.entries.iter().map(entry_json).collect();
        return Ok(ok200(list_json(results, page.total)));
    }
    let export = activity::start_export(&state.context, &call.caller, scope, filters).await?;
    let stamp = state.context.clock.now().format("%Y%m%dT%H%M%SZ");
    Ok(download(state.context.clone(), export, format, &format!("activity-{label}-{stamp}")))
}

/// A streamed download: each batch is read from the database only when the client has taken
/// the one before, so memory stays flat however long the log is.
fn download(context: Context, export: Export, format: Format, name: &str) -> HttpResponse {
    let (content_type, extension) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
        _ => ("application/x-ndjson", "jsonl"),
    };
    let header = (format == Format::Csv).then(|| format!("{}\r\n", CSV_COLUMNS.join(",")));
    let start = Some((context, export, 0_i64, header));
    let stream = futures_util::stream::unfold(start, move |state| async move {
        let (context, export, after_id, header) = state?;
        let mut chunk = header.unwrap_or_default();
        match activity::export_batch(&context, &export, after_id).await {
            Ok(rows) if rows.is_empty() => {
                (!chunk.is_empty()).then(|| (Ok(Bytes::from(chunk)), None))
            }
            Ok(rows) => {
                for row in &rows {
                    match format {
                        Format::Csv => chunk.push_str(&csv_line(row)),
                        _ => {
                            chunk.push_str(&entry_json(row).to_string());
                            chunk.push('\n');
                        }
                    }
                }
                let last = rows.last().map_or(after_id, |row| row.id);
                Some((Ok(Bytes::from(chunk)), Some((context, export, last, None))))
            }
            Err(error) => {
                // The status line is gone already; ending the body early is all that is left.
                tracing::error!(error = %format!("{error:#}"), "activity export failed");
                Some((Err(error), None))
            }
        }
    });
    let disposition = format!("attachment; filename=\"{name}.{extension}\"");
    let mut response = HttpResponse::Ok();
    response.content_type(content_type);
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        response.insert_header((CONTENT_DISPOSITION, value));
    }
    response.streaming(stream)
}

/// The columns of a CSV export, in order: the fields of an entry.
pub const CSV_COLUMNS: [&str; 13] = [
    "id",
    "created",
    "action",
    "actor_id",
    "actor_username",
    "organization_id",
    "root_id",
    "path",
    "target_user_id",
    "target_organization_id",
    "machine_id",
    "ip",
    "details",
];

/// One CSV record (RFC 4180, CRLF). `details` is the JSON object as text.
fn csv_line(row: &ActivityRow) -> String {
    let number = |value: Option<i64>| value.map(|v| v.to_string()).unwrap_or_default();
    let fields = [
        row.id.to_string(),
        csv_text(&row.created),
        csv_text(&row.action),
        number(row.actor_id),
        csv_text(row.actor_username.as_deref().unwrap_or_default()),
        number(row.organization_id),
        number(row.root_id),
        csv_text(row.path.as_deref().unwrap_or_default()),
        number(row.target_user_id),
        number(row.target_organization_id),
        number(row.machine_id),
        csv_text(row.ip.as_deref().unwrap_or_default()),
        csv_text(&row.details),
    ];
    let mut line = fields.join(",");
    line.push_str("\r\n");
    line
}

/// A text field for CSV: quoted when it holds a comma, quote or line break. A value that a
/// spreadsheet would run as a formula (`=`, `+`, `-`, `@` first, e.g. a user name typed into a
/// failed sign-in) gets a leading `'`, so opening an export cannot run anything.
fn csv_text(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if value.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

/// The entry object of the contract.
fn entry_json(row: &ActivityRow) -> Value {
    let details = serde_json::from_str::<Value>(&row.details)
        .ok()
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}));
    json!({
        "id": row.id,
        "created": row.created,
        "action": row.action,
        "actor_id": row.actor_id,
        "actor_username": row.actor_username,
        "organization_id": row.organization_id,
        "root_id": row.root_id,
        "path": row.path,
        "target_user_id": row.target_user_id,
        "target_organization_id": row.target_organization_id,
        "machine_id": row.machine_id,
        "ip": row.ip,
        "details": details,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(csv_text("plain"), "plain");
        assert_eq!(csv_text("a,b"), "\"a,b\"");
        assert_eq!(csv_text("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_text("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_text("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(csv_text("@x,y"), "\"'@x,y\"");
    }
}
