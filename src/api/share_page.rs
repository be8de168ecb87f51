//! `/s/<id>`: the visitor's side of share links, without a token.
//!
//! The page is small server-rendered HTML that works without JavaScript: every inserted value
//! is escaped, it is sent with a Content-Security-Policy that allows no script at all, and
//! its one stylesheet is served from `/s/_/share.css`. Downloads stream like the API's; a
//! folder's ZIP is written by a blocking writer into a bounded channel that feeds the body,
//! so memory stays flat whatever the folder's size.

use std::io::Write;

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentDisposition, DispositionParam, DispositionType};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::json;
use tokio::sync::mpsc;

use crate::api::extract::{client_ip, state};
use crate::api::files::send_file;
use crate::api::ok;
use crate::api::params::Params;
use crate::error::{ApiError, ApiResult};
use crate::service::files::Download;
use crate::service::shares::{self, Access, Grant, OpenLink, Visitor};
use crate::storage::files::{human_size, receive};
use crate::storage::paths::{SafePath, check_name};

/// The cookie that remembers a link's password; its `Path` keeps it to one link.
const COOKIE_NAME: &str = "cloudsync_share";
/// The header scripts send a link's password in.
const PASSWORD_HEADER: &str = "x-share-password";
/// No script, no frames, no foreign resources; forms post only back here.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
/// Characters kept as they are in a link to a file inside a shared folder.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.');
/// Size of the pieces the ZIP writer hands to the response.
const ZIP_PIECE_BYTES: usize = 64 * 1024;

const STYLESHEET: &str = "\
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;\
color:#1d2330;background:#f3f5f8}
main{max-width:40rem;margin:0 auto;padding:1.5rem 1rem}
.card{background:#fff;border-radius:12px;padding:1.25rem;box-shadow:0 1px 3px rgba(0,0,0,.12)}
h1{font-size:1.35rem;margin:0 0 .25rem;overflow-wrap:anywhere}
.meta{color:#5b6475;margin:0 0 1rem}
.button,button{display:inline-block;background:#0b5fff;color:#fff;border:0;border-radius:8px;\
padding:.7rem 1.2rem;font-size:1rem;text-decoration:none;cursor:pointer}
ul.files{list-style:none;padding:0;margin:1rem 0}
ul.files li{display:flex;justify-content:space-between;gap:1rem;padding:.6rem 0;\
border-top:1px solid #e4e7ec}
ul.files a{overflow-wrap:anywhere}
ul.files span{color:#5b6475;white-space:nowrap}
form{margin-top:1.25rem}
input{font-size:1rem;padding:.6rem;width:100%;margin:.25rem 0 .75rem;border:1px solid #c5cad3;\
border-radius:8px}
.error{color:#b00020}
footer{color:#5b6475;font-size:.85rem;margin-top:1rem;text-align:center}
";

/// `GET /s/_/share.css`: the page's stylesheet.
pub async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/css; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(STYLESHEET)
}

/// `GET /s/<id>`: the link's page, or the password form.
pub async fn page(request: HttpRequest) -> HttpResponse {
    let result = async {
        let state = state(&request)?;
        let id = link_id(&request);
        shares::open(&state.context, &id, &visitor(&request)).await
    }
    .await;
    match result {
        Ok(Access::Open(link)) => html(StatusCode::OK, &link_page(&link)),
        Ok(Access::PasswordNeeded) => {
            html(StatusCode::UNAUTHORIZED, &password_page(&link_id(&request), None))
        }
        Err(error) => error_page(&error),
    }
}

/// `POST /s/<id>` with `password`: sets the link's cookie and goes back to the page.
pub async fn unlock(request: HttpRequest, params: Params) -> HttpResponse {
    let id = link_id(&request);
    let result = async {
        let state = state(&request)?;
        let password = params.get("password").unwrap_or_default().to_string();
        let (value, max_age) =
            shares::unlock(&state.context, &id, &password, &client_ip(&request)).await?;
        Ok::<_, ApiError>((value, max_age, state.public_url.starts_with("https:")))
    }
    .await;
    match result {
        Ok((value, max_age, secure)) => {
            let mut response = HttpResponse::SeeOther();
            response.insert_header((header::LOCATION, format!("/s/{id}")));
            if !value.is_empty() {
                let secure = if secure { "; Secure" } else { "" };
                response.insert_header((
                    header::SET_COOKIE,
                    format!(
                        "{COOKIE_NAME}={value}; Path=/s/{id}; Max-Age={max_age}; HttpOnly; \
                         SameSite=Lax{secure}"
                    ),
                ));
            }
            response.finish()
        }
        Err(ApiError::Unauthorized(message)) => {
            html(StatusCode::UNAUTHORIZED, &password_page(&id, Some(&message)))
        }
        Err(error) => error_page(&error),
    }
}

/// `GET /s/<id>/download`: the file of a file link.
pub async fn download(request: HttpRequest) -> ApiResult<HttpResponse> {
    let state = state(&request)?;
    let grant =
        shares::download(&state.context, &link_id(&request), &visitor(&request), None).await?;
    send_grant(&request, grant).await
}

/// `GET /s/<id>/download/<path>`: a file inside a folder link. The path is read from the raw
/// URL, decoded once and checked by `storage::paths`, like the API's paths.
pub async fn download_inside(request: HttpRequest) -> ApiResult<HttpResponse> {
    let state = state(&request)?;
    let id = link_id(&request);
    let prefix = format!("/s/{id}/download/");
    let raw = request.uri().path().strip_prefix(&prefix).unwrap_or_default();
    let inner = SafePath::parse_url(raw)?;
    let grant = shares::download(&state.context, &id, &visitor(&request), Some(inner)).await?;
    send_grant(&request, grant).await
}

async fn send_grant(request: &HttpRequest, grant: Grant) -> ApiResult<HttpResponse> {
    let found = Download {
        rev: grant.entry.rev.clone(),
        size: grant.entry.size,
        disk_path: grant.disk_path,
        entry: grant.entry,
    };
    let mut response = send_file(request, &found).await?;
    response
        .headers_mut()
        .insert(header::REFERRER_POLICY, header::HeaderValue::from_static("no-referrer"));
    Ok(response)
}

/// `GET /s/<id>/zip`: the whole folder as a ZIP, streamed.
pub async fn zip(request: HttpRequest) -> ApiResult<HttpResponse> {
    let state = state(&request)?;
    let (top, files) = shares::zip(&state.context, &link_id(&request), &visitor(&request)).await?;
    let (sender, receiver) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::task::spawn_blocking(move || {
        let failed = sender.clone();
        if let Err(error) = write_zip(files, ChannelWriter { sender, buffer: Vec::new() }) {
            tracing::warn!(%error, "a share link's ZIP broke off");
            let _ = failed.blocking_send(Err(std::io::Error::other(error.to_string())));
        }
    });
    let body = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|piece| (piece, receiver))
    });
    let name = if top.name.is_empty() { "files".to_string() } else { top.name.clone() };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/zip"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header(attachment(&format!("{name}.zip")))
        .streaming(body))
}

fn write_zip(files: Vec<(String, Grant)>, writer: ChannelWriter) -> anyhow::Result<()> {
    let mut archive = zip::ZipWriter::new_stream(writer);
    for (name, grant) in files {
        let mut file = match std::fs::File::open(&grant.disk_path) {
            Ok(file) => file,
            Err(error) => {
                // A file removed behind the server's back since the listing is left out.
                tracing::warn!(%error, "a file of a shared folder could not be read");
                continue;
            }
        };
        let method = if already_compressed(&name) {
            zip::CompressionMethod::Stored
        } else {
            zip::CompressionMethod::Deflated
        };
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(method)
            .large_file(grant.entry.size >= i64::from(u32::MAX));
        archive.start_file(name, options)?;
        std::io::copy(&mut file, &mut archive)?;
    }
    let mut writer = archive.finish()?.into_inner();
    writer.flush()?;
    Ok(())
}

/// Whether a file's name says its content is compressed already (pictures, video, audio,
/// archives), so that deflating it again would cost time and gain nothing.
fn already_compressed(name: &str) -> bool {
    const KINDS: &[&str] = &[
        "7z", "avif", "bz2", "docx", "gif", "gz", "heic", "jpeg", "jpg", "m4a", "m4v", "mkv",
        "mov", "mp3", "mp4", "odt", "ogg", "pdf", "png", "pptx", "rar", "webm", "webp", "xlsx",
        "xz", "zip", "zst",
    ];
    name.rsplit_once('.')
        .is_some_and(|(_, extension)| KINDS.contains(&extension.to_ascii_lowercase().as_str()))
}

/// A blocking writer that hands its bytes to an async response body in pieces; the bounded
/// channel makes the writer wait for a slow client instead of buffering.
struct ChannelWriter {
    sender: mpsc::Sender<Result<Bytes, std::io::Error>>,
    buffer: Vec<u8>,
}

impl Write for ChannelWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= ZIP_PIECE_BYTES {
            self.flush()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let piece = Bytes::from(std::mem::take(&mut self.buffer));
        self.sender.blocking_send(Ok(piece)).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away")
        })
    }
}

/// `POST /s/<id>/upload`: visitors' files into a folder link that takes them (multipart,
/// parts named `file`). A browser's form is sent back to the page; a script gets JSON.
pub async fn upload(request: HttpRequest, body: web::Payload) -> ApiResult<HttpResponse> {
    let state = state(&request)?;
    let id = link_id(&request);
    let visitor = visitor(&request);
    shares::check_visitor_upload(&state.context, &id, &visitor).await?;
    let content_type = header_text(&request, header::CONTENT_TYPE.as_str()).to_ascii_lowercase();
    if !content_type.starts_with("multipart/form-data") {
        return Err(ApiError::invalid(
            "An upload must be a multipart/form-data body with parts named 'file'.",
        ));
    }
    let limit = state.config.max_upload_bytes;
    let mut multipart = Multipart::new(request.headers(), body.into_inner());
    let mut results = Vec::new();
    while let Some(field) = multipart.next().await {
        let mut field = field.map_err(malformed)?;
        let file_name = field
            .content_disposition()
            .and_then(|disposition| disposition.get_filename())
            .map(str::to_string);
        if field.name() != Some("file") {
            while let Some(chunk) = field.next().await {
                chunk.map_err(malformed)?;
            }
            continue;
        }
        let Some(file_name) = file_name.filter(|name| !name.is_empty()) else {
            // A form sent with no file chosen has an empty part; there is nothing to store.
            while let Some(chunk) = field.next().await {
                chunk.map_err(malformed)?;
            }
            continue;
        };
        let name = check_name(&file_name)?;
        let received = receive(&state.context.data_dir, &mut field, limit).await?;
        let entry =
            shares::store_visitor_upload(&state.context, &id, &visitor.ip, name, received).await?;
        results.push(json!({"name": entry.name, "bytes": entry.size}));
    }
    if results.is_empty() {
        return Err(ApiError::invalid("The upload has no file in a part named 'file'."));
    }
    if header_text(&request, header::ACCEPT.as_str()).contains("text/html") {
        return Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, format!("/s/{id}")))
            .finish());
    }
    Ok(ok(StatusCode::CREATED, json!({"total": results.len(), "results": results})))
}

fn malformed(error: impl std::fmt::Display) -> ApiError {
    ApiError::invalid(format!("The multipart body is malformed: {error}"))
}

fn link_id(request: &HttpRequest) -> String {
    request.match_info().get("share_id").unwrap_or_default().to_string()
}

fn header_text(request: &HttpRequest, name: &str) -> String {
    request.headers().get(name).and_then(|value| value.to_str().ok()).unwrap_or("").to_string()
}

/// Who visits: their address, the link's cookie and a password header, if any.
fn visitor(request: &HttpRequest) -> Visitor {
    let cookie = request
        .headers()
        .get_all(header::COOKIE)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.to_string());
    let password = request
        .headers()
        .get(PASSWORD_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);
    Visitor { ip: client_ip(request), cookie, password }
}

fn attachment(name: &str) -> ContentDisposition {
    let fallback: String =
        name.chars()
            .map(|c| {
                if c.is_ascii() && !c.is_ascii_control() && c != '"' && c != '\\' { c } else { '_' }
            })
            .collect();
    ContentDisposition {
        disposition: DispositionType::Attachment,
        parameters: vec![
            DispositionParam::Filename(fallback),
            DispositionParam::FilenameExt(header::ExtendedValue {
                charset: header::Charset::Ext("UTF-8".into()),
                language_tag: None,
                value: name.as_bytes().to_vec(),
            }),
        ],
    }
}

// ---- HTML ---------------------------------------------------------------------------------

/// Escapes text for HTML content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

fn html(status: StatusCode, body: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .body(body.to_string())
}

fn document(title: &str, content: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <title>{} · CloudSync</title>\n<link rel=\"stylesheet\" href=\"/s/_/share.css\">\n\
         </head>\n<body>\n<main>\n<div class=\"card\">\n{content}</div>\n\
         <footer>Shared with AXIS CloudSync</footer>\n</main>\n</body>\n</html>\n",
        escape(title)
    )
}

fn link_page(link: &OpenLink) -> String {
    let share = &link.share;
    let id = escape(&share.id);
    let name = if link.entry.name.is_empty() { "Shared folder" } else { &link.entry.name };
    let mut content = format!("<h1>{}</h1>\n", escape(name));
    if link.entry.is_dir {
        let count = link.file_count;
        let noun = if count == 1 { "file" } else { "files" };
        content.push_str(&format!("<p class=\"meta\">Folder · {count} {noun}</p>\n"));
        if count > 0 {
            content.push_str(&format!(
                "<a class=\"button\" href=\"/s/{id}/zip\">Download all (ZIP)</a>\n"
            ));
        }
        content.push_str("<ul class=\"files\">\n");
        for (relative, entry) in &link.files {
            let href: Vec<String> = relative
                .split('/')
                .map(|segment| utf8_percent_encode(segment, PATH_SEGMENT).to_string())
                .collect();
            content.push_str(&format!(
                "<li><a href=\"/s/{id}/download/{}\">{}</a> <span>{}</span></li>\n",
                escape(&href.join("/")),
                escape(relative),
                escape(&human_size(entry.size)),
            ));
        }
        content.push_str("</ul>\n");
        if link.files.len() < count {
            content.push_str(&format!(
                "<p class=\"meta\">{} more files are in the ZIP.</p>\n",
                count - link.files.len()
            ));
        }
        if share.allow_upload {
            content.push_str(&format!(
                "<form method=\"post\" action=\"/s/{id}/upload\" enctype=\"multipart/form-data\">\n\
                 <label for=\"file\">Add files to this folder</label>\n\
                 <input id=\"file\" type=\"file\" name=\"file\" multiple required>\n\
                 <button type=\"submit\">Upload</button>\n</form>\n"
            ));
        }
    } else {
        let mime = mime_guess::from_path(&link.entry.name).first_or_octet_stream();
        content.push_str(&format!(
            "<p class=\"meta\">{} · {}</p>\n<a class=\"button\" href=\"/s/{id}/download\">\
             Download</a>\n",
            escape(&human_size(link.entry.size)),
            escape(mime.essence_str()),
        ));
    }
    if let Some(expires) = &share.expires {
        content.push_str(&format!(
            "<p class=\"meta\">This link works until {}.</p>\n",
            escape(expires)
        ));
    }
    if let Some(limit) = share.download_limit {
        let left = (limit - share.download_count).max(0);
        content.push_str(&format!("<p class=\"meta\">Downloads left: {left}.</p>\n"));
    }
    document(name, &content)
}

fn password_page(id: &str, problem: Option<&str>) -> String {
    let problem = problem
        .map(|message| format!("<p class=\"error\">{}</p>\n", escape(message)))
        .unwrap_or_default();
    let content = format!(
        "<h1>This link is protected</h1>\n<p class=\"meta\">Enter the password you were given.\
         </p>\n{problem}<form method=\"post\" action=\"/s/{}\">\n\
         <label for=\"password\">Password</label>\n\
         <input id=\"password\" type=\"password\" name=\"password\" required autofocus>\n\
         <button type=\"submit\">Open</button>\n</form>\n",
        escape(id)
    );
    document("Protected link", &content)
}

fn error_page(error: &ApiError) -> HttpResponse {
    let (status, _) = error.status_and_code();
    if status.is_server_error() {
        tracing::error!(error = %format!("{error:#}"), "share page failed");
    }
    let message = if status.is_server_error() {
        "The server failed to open this link; the failure has been logged.".to_string()
    } else {
        error.to_string()
    };
    let content = format!(
        "<h1>This link cannot be opened</h1>\n<p class=\"meta\">{}</p>\n",
        escape(&message)
    );
    let mut response = html(status, &document("Link unavailable", &content));
    if let ApiError::RateLimited { retry_after_seconds, .. } = error
        && let Ok(value) = header::HeaderValue::from_str(&retry_after_seconds.max(&1).to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compressed_kinds_are_stored() {
        assert!(already_compressed("Trip/IMG_1.JPG"));
        assert!(already_compressed("a.tar.gz"));
        assert!(!already_compressed("notes.txt"));
        assert!(!already_compressed("Makefile"));
    }

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }
}
