//! Share links: people open one file or folder to anyone who has the link, and keep control.
//!
//! The owner's side (create, read, list, update, delete) authorizes like machines: the link's
//! maker, and administrators whose reach covers the maker's organization. The visitor's side
//! takes no token: the link id is the capability, a password (when set) is proven by a signed
//! cookie or the `X-Share-Password` header, and each download is granted by one conditional
//! `UPDATE` so that a download limit holds under any concurrency. Every visitor's access
//! writes a `share.access` entry in the transaction that grants it.

use std::path::PathBuf;

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use crate::clock::{format_time, parse_time};
use crate::db::activity::{NewActivity, insert_activity};
use crate::db::entries::{list_below, live_files_below};
use crate::db::orgs::organization_chain_active;
use crate::db::policies::{Policies, get_policies};
use crate::db::roots::{RootRow, find_root};
use crate::db::shares::{
    ShareRow, ShareScope, count_download, delete_share, find_server_key, find_share,
    get_or_put_server_key, insert_share, list_shares, update_share,
};
use crate::db::throttle;
use crate::db::users::find_user;
use crate::domain::access::may_manage_owned;
use crate::domain::{Caller, Permission, Role};
use crate::error::{ApiError, ApiResult};
use crate::secrets::{constant_time_eq, hmac_sha256};
use crate::service::Context;
use crate::service::access::{caller_reaches_org, root_for, root_level_of};
use crate::service::files::{Entry, WriteMode, entry_at, live, place_file};
use crate::storage::files::Received;
use crate::storage::paths::SafePath;
use crate::storage::{self, disk_path};

/// How long the cookie that remembers a link's password lives.
pub const COOKIE_HOURS: i64 = 12;
/// The most files a folder link's page lists (the ZIP holds them all).
pub const PAGE_FILES: i64 = 1000;
/// The name of the server key that signs share cookies.
const COOKIE_KEY: &str = "share_cookie";
/// How many characters of a link id the activity log keeps: enough to tell links apart, too
/// few to use one (the root's log is readable by everyone with `read` on it).
const LOGGED_ID_CHARS: usize = 8;

/// What the maker of a link asks for.
#[derive(Debug)]
pub struct NewShare {
    pub root_id: i64,
    pub path: SafePath,
    pub password: Option<String>,
    pub expires: Option<String>,
    pub download_limit: Option<i64>,
    pub allow_upload: bool,
}

/// Changes to a link; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct ShareChanges {
    /// `Some("")` removes the password.
    pub password: Option<String>,
    /// `Some(None)` removes the expiry.
    pub expires: Option<Option<String>>,
    /// `Some(None)` removes the limit.
    pub download_limit: Option<Option<i64>>,
    pub allow_upload: Option<bool>,
}

/// Which links to list.
#[derive(Debug, Default)]
pub struct ShareFilter {
    pub user_id: Option<i64>,
    pub organization_id: Option<i64>,
    pub offset: i64,
    pub limit: i64,
}

/// Creates a link. Sharing needs `read` on the root; a folder link that takes visitors'
/// files needs `write`.
pub async fn create(context: &Context, caller: &Caller, input: NewShare) -> ApiResult<ShareRow> {
    check_limit(input.download_limit)?;
    let password_hash = hash_new_password(context, input.password).await?;
    let now = context.clock.now();
    let caller = caller.clone();
    context
        .db
        .write(move |tx| {
            let policies = enabled_policies(tx)?;
            let needed = if input.allow_upload { Permission::Write } else { Permission::Read };
            let (root, _) = root_for(tx, &caller, input.root_id, needed)?;
            let entry = entry_at(tx, &root, &input.path, false)?;
            if input.allow_upload && !entry.is_dir {
                return Err(ApiError::invalid("Only a folder link can take visitors' files."));
            }
            let expires = expiry(input.expires.as_deref(), now, &policies)?;
            let share = ShareRow {
                id: hex::encode(rand::random::<[u8; 16]>()),
                root_id: root.id,
                path: entry.path.clone(),
                is_dir: entry.is_dir,
                created: format_time(now),
                created_by: caller.user_id,
                expires,
                download_limit: input.download_limit,
                download_count: 0,
                password_hash,
                allow_upload: input.allow_upload,
            };
            insert_share(tx, &share)?;
            log_change(tx, &caller, &share, &root, "share.create", format_time(now))?;
            Ok(share)
        })
        .await
}

/// One link the caller may manage.
pub async fn get(context: &Context, caller: &Caller, id: String) -> ApiResult<ShareRow> {
    let caller = caller.clone();
    context.db.read(move |conn| managed_share(conn, &caller, &id)).await
}

/// Lists links: a user's own; an admin's whole reach, or one user or organization in it.
pub async fn list(
    context: &Context,
    caller: &Caller,
    filter: ShareFilter,
) -> ApiResult<(Vec<ShareRow>, i64)> {
    let caller = caller.clone();
    context
        .db
        .read(move |conn| {
            let scope = match (filter.user_id, filter.organization_id) {
                (Some(user_id), _) if user_id == caller.user_id => ShareScope::User(user_id),
                (Some(user_id), _) => {
                    let user =
                        find_user(conn, user_id)?.ok_or_else(|| ApiError::not_found("User"))?;
                    let reaches = caller_reaches_org(conn, &caller, user.organization_id)?;
                    if !may_manage_owned(&caller, user.id, reaches) {
                        return Err(ApiError::not_found("User"));
                    }
                    ShareScope::User(user_id)
                }
                (None, Some(org_id)) => {
                    if !caller.role.is_admin() {
                        return Err(ApiError::forbidden(
                            "Only administrators may list the links of an organization.",
                        ));
                    }
                    if !caller_reaches_org(conn, &caller, org_id)? {
                        return Err(ApiError::not_found("Organization"));
                    }
                    ShareScope::OrganizationTree(org_id)
                }
                // Without a filter everyone sees the links they made themselves.
                (None, None) => ShareScope::User(caller.user_id),
            };
            Ok(list_shares(conn, scope, filter.offset, filter.limit)?)
        })
        .await
}

/// Changes a link the caller may manage. Turning on visitors' uploads needs `write` on the
/// root, as creating such a link does.
pub async fn update(
    context: &Context,
    caller: &Caller,
    id: String,
    changes: ShareChanges,
) -> ApiResult<ShareRow> {
    if let Some(limit) = changes.download_limit {
        check_limit(limit)?;
    }
    let new_hash = match changes.password.clone() {
        Some(password) if !password.is_empty() => {
            Some(hash_new_password(context, Some(password)).await?)
        }
        Some(_) => Some(None),
        None => None,
    };
    let now = context.clock.now();
    let caller = caller.clone();
    context
        .db
        .write(move |tx| {
            let policies = enabled_policies(tx)?;
            let mut share = managed_share(tx, &caller, &id)?;
            let root = find_root(tx, share.root_id)?.ok_or_else(|| ApiError::not_found("Link"))?;
            if let Some(allow) = changes.allow_upload {
                if allow && !share.is_dir {
                    return Err(ApiError::invalid("Only a folder link can take visitors' files."));
                }
                if allow && !share.allow_upload {
                    root_for(tx, &caller, share.root_id, Permission::Write)?;
                }
                share.allow_upload = allow;
            }
            if let Some(expires) = &changes.expires {
                share.expires = expiry(expires.as_deref(), now, &policies)?;
            }
            if let Some(limit) = changes.download_limit {
                share.download_limit = limit;
            }
            if let Some(hash) = new_hash {
                share.password_hash = hash;
            }
            update_share(tx, &share)?;
            log_change(tx, &caller, &share, &root, "share.update", format_time(now))?;
            Ok(share)
        })
        .await
}

/// Deletes a link the caller may manage; it answers 404 from then on.
pub async fn delete(context: &Context, caller: &Caller, id: String) -> ApiResult<()> {
    let now = context.now_text();
    let caller = caller.clone();
    context
        .db
        .write(move |tx| {
            let share = managed_share(tx, &caller, &id)?;
            delete_share(tx, &share.id)?;
            if let Some(root) = find_root(tx, share.root_id)? {
                log_change(tx, &caller, &share, &root, "share.delete", now)?;
            }
            Ok(())
        })
        .await
}

fn managed_share(conn: &rusqlite::Connection, caller: &Caller, id: &str) -> ApiResult<ShareRow> {
    let share = find_share(conn, id)?.ok_or_else(|| ApiError::not_found("Link"))?;
    if share.created_by == caller.user_id || caller.role == Role::SystemAdmin {
        return Ok(share);
    }
    let maker = find_user(conn, share.created_by)?.ok_or_else(|| ApiError::not_found("Link"))?;
    let reaches = caller_reaches_org(conn, caller, maker.organization_id)?;
    if may_manage_owned(caller, share.created_by, reaches) {
        Ok(share)
    } else {
        Err(ApiError::not_found("Link"))
    }
}

fn log_change(
    tx: &rusqlite::Connection,
    caller: &Caller,
    share: &ShareRow,
    root: &RootRow,
    action: &str,
    now: String,
) -> ApiResult<()> {
    insert_activity(
        tx,
        &NewActivity {
            root_id: Some(root.id),
            path: Some(share.path.clone()),
            target_user_id: Some(share.created_by),
            details: json!({
                "link": logged_id(&share.id),
                "expires": share.expires,
                "download_limit": share.download_limit,
                "has_password": share.password_hash.is_some(),
                "allow_upload": share.allow_upload,
            }),
            ..NewActivity::by(caller, now, action)
        },
    )?;
    Ok(())
}

fn logged_id(id: &str) -> String {
    id.chars().take(LOGGED_ID_CHARS).collect()
}

fn check_limit(limit: Option<i64>) -> ApiResult<()> {
    match limit {
        Some(limit) if limit < 1 => {
            Err(ApiError::invalid("The parameter 'download_limit' must be 1 or more."))
        }
        _ => Ok(()),
    }
}

async fn hash_new_password(
    context: &Context,
    password: Option<String>,
) -> ApiResult<Option<String>> {
    let Some(password) = password.filter(|password| !password.is_empty()) else {
        return Ok(None);
    };
    if password.chars().count() > 1024 {
        return Err(ApiError::invalid("The parameter 'password' is longer than 1024 characters."));
    }
    context.hash_password(password).await.map(Some)
}

/// The policies, refusing with 403 when share links are turned off.
fn enabled_policies(conn: &rusqlite::Connection) -> ApiResult<Policies> {
    let policies = get_policies(conn)?;
    if !policies.share_links_enabled {
        return Err(ApiError::forbidden("Share links are turned off on this server."));
    }
    Ok(policies)
}

/// The stored expiry of a link: the given time (RFC 3339 or a date), which must lie ahead.
/// Under a `share_link_max_days` policy a link without an expiry gets the longest one
/// allowed, and a later one is refused.
fn expiry(
    text: Option<&str>,
    now: DateTime<Utc>,
    policies: &Policies,
) -> ApiResult<Option<String>> {
    let cap = (policies.share_link_max_days > 0)
        .then(|| now + Duration::days(policies.share_link_max_days));
    let wanted = match text.map(str::trim).filter(|text| !text.is_empty()) {
        None => return Ok(cap.map(format_time)),
        Some(text) => parse_time(text).ok_or_else(|| {
            ApiError::invalid(
                "The parameter 'expires' must be an RFC 3339 time such as \
                 2026-12-03T09:30:00Z, or a date such as 2026-12-03.",
            )
        })?,
    };
    if wanted <= now {
        return Err(ApiError::invalid("The parameter 'expires' must lie in the future."));
    }
    if let Some(cap) = cap
        && wanted > cap
    {
        return Err(ApiError::invalid(format!(
            "The parameter 'expires' may lie at most {} days ahead (server policy).",
            policies.share_link_max_days
        )));
    }
    Ok(Some(format_time(wanted)))
}

// ---- The visitor's side -------------------------------------------------------------------

/// How a visitor proves a link's password.
#[derive(Debug, Default)]
pub struct Visitor {
    /// The client address, for the activity log and the password throttle.
    pub ip: String,
    /// The value of the link's cookie, if the browser sent one.
    pub cookie: Option<String>,
    /// A password sent with the request (`X-Share-Password`).
    pub password: Option<String>,
}

/// An open link: what the page shows.
#[derive(Debug)]
pub struct OpenLink {
    pub share: ShareRow,
    /// The shared file or folder.
    pub entry: Entry,
    /// For a folder: its files (at most [`PAGE_FILES`]), with paths relative to it.
    pub files: Vec<(String, Entry)>,
    /// How many files the folder holds in all.
    pub file_count: usize,
}

/// Whether the visitor may go on.
#[derive(Debug)]
pub enum Access {
    Open(Box<OpenLink>),
    /// The link has a password and the visitor has not proven it.
    PasswordNeeded,
}

/// The state checks every visit starts with: 404 for an unknown link, 403 when links are
/// off, 410 for an expired or used-up one.
fn usable_share(
    conn: &rusqlite::Connection,
    id: &str,
    now: &str,
    for_download: bool,
) -> ApiResult<ShareRow> {
    let share = find_share(conn, id)?.ok_or_else(link_not_found)?;
    enabled_policies(conn)?;
    if share.expires.as_deref().is_some_and(|expires| expires <= now) {
        return Err(ApiError::Gone("This link has expired.".into()));
    }
    if for_download && share.download_limit.is_some_and(|limit| share.download_count >= limit) {
        return Err(ApiError::Gone("This link's downloads are used up.".into()));
    }
    Ok(share)
}

fn link_not_found() -> ApiError {
    ApiError::NotFound("No such link (or it was deleted).".into())
}

/// Opens a link for the page: checks its state and the visitor's password proof, and lists a
/// folder's files. A page view writes a `share.access` entry but does not count as a
/// download.
pub async fn open(context: &Context, id: &str, visitor: &Visitor) -> ApiResult<Access> {
    // A used-up link's page answers 410 like its downloads: there is nothing left to get.
    let share = admit(context, id, visitor, true).await?;
    let Some(share) = share else { return Ok(Access::PasswordNeeded) };
    let now = context.now_text();
    let ip = visitor.ip.clone();
    let (share, root, entry) = context
        .db
        .write(move |tx| {
            let (root, entry) = shared_entry(tx, &share)?;
            log_access(tx, &share, &root, &entry.path, &ip, "view", 0, now)?;
            Ok((share, root, entry))
        })
        .await?;
    if !entry.is_dir {
        return Ok(Access::Open(Box::new(OpenLink { share, entry, files: vec![], file_count: 0 })));
    }
    // Listed after the visit is logged, outside the writer lock: a big folder delays no write.
    let top = SafePath::parse(&entry.path)?;
    let key = entry.path_key.clone();
    let (items, file_count) =
        context.db.read(move |conn| Ok(live_files_below(conn, root.id, &key, PAGE_FILES)?)).await?;
    let files = items.into_iter().map(|item| (relative(&top, &item.path), item)).collect();
    let file_count = usize::try_from(file_count).unwrap_or(0);
    Ok(Access::Open(Box::new(OpenLink { share, entry, files, file_count })))
}

/// Checks a link's state and the visitor's proof of its password. `None` when a password
/// is needed and was not given; 401 for a wrong one, 429 when this address tried too often.
async fn admit(
    context: &Context,
    id: &str,
    visitor: &Visitor,
    for_download: bool,
) -> ApiResult<Option<ShareRow>> {
    let now = context.now_text();
    let lookup = id.to_string();
    let (share, key) = context
        .db
        .read(move |conn| {
            let share = usable_share(conn, &lookup, &now, for_download)?;
            Ok((share, find_server_key(conn, COOKIE_KEY)?))
        })
        .await?;
    let Some(hash) = share.password_hash.clone() else { return Ok(Some(share)) };
    if let (Some(cookie), Some(key)) = (&visitor.cookie, &key)
        && cookie_is_valid(key, &share, &hash, cookie, context.clock.now())
    {
        return Ok(Some(share));
    }
    match &visitor.password {
        Some(password) => {
            check_password(context, &share, password, &visitor.ip).await?;
            Ok(Some(share))
        }
        None => Ok(None),
    }
}

/// Checks a password given for a link. Wrong passwords are counted per link and client
/// address, so a stranger guessing cannot lock the link for everyone else.
pub async fn check_password(
    context: &Context,
    share: &ShareRow,
    password: &str,
    ip: &str,
) -> ApiResult<()> {
    let key = format!("share:{}:{ip}", share.id);
    let now = context.clock.now();
    let now_text = format_time(now);
    let (policies, locked) = {
        let (key, now_text) = (key.clone(), now_text.clone());
        context
            .db
            .read(move |conn| {
                Ok((get_policies(conn)?, throttle::locked_until(conn, &key, &now_text)?))
            })
            .await?
    };
    if let Some(until) = locked {
        return Err(too_many_tries(&until, now));
    }
    let hash = share.password_hash.clone().unwrap_or_default();
    let right = context.verify_password(password.to_string(), hash).await?;
    let window_start = format_time(now - Duration::minutes(policies.lockout_minutes));
    let lock_until = format_time(now + Duration::minutes(policies.lockout_minutes));
    let locked = context
        .db
        .write(move |tx| {
            if right {
                throttle::clear_failures(tx, &key)?;
                return Ok(None);
            }
            let failures = throttle::record_failure(tx, &key, &now_text, &window_start)?;
            if failures >= policies.max_failed_logins {
                throttle::lock(tx, &key, &lock_until)?;
                return Ok(Some(lock_until));
            }
            Ok(None)
        })
        .await?;
    if right {
        return Ok(());
    }
    match locked {
        Some(until) => Err(too_many_tries(&until, now)),
        None => Err(ApiError::Unauthorized("The password of this link is not right.".into())),
    }
}

fn too_many_tries(until: &str, now: DateTime<Utc>) -> ApiError {
    let retry_after_seconds = parse_time(until).map_or(60, |until| (until - now).num_seconds());
    ApiError::RateLimited {
        message: "Too many wrong passwords for this link from your address; try again later."
            .into(),
        retry_after_seconds,
    }
}

/// Checks the password given on the page and answers the cookie that remembers it for
/// [`COOKIE_HOURS`], with its lifetime in seconds.
pub async fn unlock(
    context: &Context,
    id: &str,
    password: &str,
    ip: &str,
) -> ApiResult<(String, i64)> {
    let now = context.now_text();
    let lookup = id.to_string();
    let share = context.db.read(move |conn| usable_share(conn, &lookup, &now, false)).await?;
    let Some(hash) = share.password_hash.clone() else {
        return Ok((String::new(), 0));
    };
    check_password(context, &share, password, ip).await?;
    let fresh = hex::encode(rand::random::<[u8; 32]>());
    let key =
        context.db.write(move |tx| Ok(get_or_put_server_key(tx, COOKIE_KEY, &fresh)?)).await?;
    let expires = context.clock.now().timestamp() + COOKIE_HOURS * 3600;
    Ok((cookie_value(&key, &share, &hash, expires), COOKIE_HOURS * 3600))
}

/// A cookie value: its end (Unix seconds) and an HMAC over the link id, that end and the
/// password hash, so that a cookie works for one link only, ends on time, and dies when the
/// password changes.
fn cookie_value(key: &str, share: &ShareRow, hash: &str, expires: i64) -> String {
    let message = format!("{}\n{expires}\n{hash}", share.id);
    format!("{expires}.{}", hex::encode(hmac_sha256(key.as_bytes(), message.as_bytes())))
}

fn cookie_is_valid(
    key: &str,
    share: &ShareRow,
    hash: &str,
    cookie: &str,
    now: DateTime<Utc>,
) -> bool {
    let Some((expires, _)) = cookie.split_once('.') else { return false };
    let Ok(expires) = expires.parse::<i64>() else { return false };
    if expires <= now.timestamp() {
        return false;
    }
    constant_time_eq(cookie_value(key, share, hash, expires).as_bytes(), cookie.as_bytes())
}

/// A file granted to a visitor.
#[derive(Debug)]
pub struct Grant {
    pub entry: Entry,
    pub disk_path: PathBuf,
}

/// Grants one download of a file link (`inner` = `None`) or of a file inside a folder link,
/// counting it against the link's limit in the same transaction that logs it. A path that is
/// not there answers 404 and counts nothing.
pub async fn download(
    context: &Context,
    id: &str,
    visitor: &Visitor,
    inner: Option<SafePath>,
) -> ApiResult<Grant> {
    let share = admit(context, id, visitor, true).await?.ok_or_else(password_needed)?;
    let now = context.now_text();
    let data_dir = context.data_dir.clone();
    let ip = visitor.ip.clone();
    context
        .db
        .write(move |tx| {
            let (root, top) = shared_entry(tx, &share)?;
            let entry = match (&inner, top.is_dir) {
                (None, false) => top,
                (Some(inner), true) => {
                    let mut target = SafePath::parse(&top.path)?;
                    for name in inner.names() {
                        target = target.join(name)?;
                    }
                    let entry = entry_at(tx, &root, &target, false)?;
                    if entry.is_dir {
                        return Err(ApiError::invalid(
                            "That is a folder; download a file, or the whole folder as a ZIP.",
                        ));
                    }
                    entry
                }
                (None, true) => {
                    return Err(ApiError::invalid(
                        "This link is a folder: download one of its files or the whole ZIP.",
                    ));
                }
                (Some(_), false) => return Err(ApiError::not_found("File")),
            };
            let path = SafePath::parse(&entry.path)?;
            let disk_path = disk_path(&storage::root_dir(&data_dir, &root), &path)?;
            grant(tx, &share, &now)?;
            log_access(tx, &share, &root, &entry.path, &ip, "download", entry.size, now)?;
            Ok(Grant { entry, disk_path })
        })
        .await
}

/// The files of a folder link for its ZIP, each with its name inside the ZIP. Counts as one
/// download.
pub async fn zip(
    context: &Context,
    id: &str,
    visitor: &Visitor,
) -> ApiResult<(Entry, Vec<(String, Grant)>)> {
    let share = admit(context, id, visitor, true).await?.ok_or_else(password_needed)?;
    let now = context.now_text();
    let data_dir = context.data_dir.clone();
    let ip = visitor.ip.clone();
    let (root, top, items) = context
        .db
        .write(move |tx| {
            let (root, top) = shared_entry(tx, &share)?;
            if !top.is_dir {
                return Err(ApiError::invalid("Only a folder link can be downloaded as a ZIP."));
            }
            let items: Vec<Entry> = list_below(tx, root.id, &top.path_key)?
                .into_iter()
                .filter(|item| !item.is_dir && !item.is_deleted)
                .collect();
            let bytes: i64 = items.iter().map(|item| item.size).sum();
            grant(tx, &share, &now)?;
            log_access(tx, &share, &root, &top.path, &ip, "zip", bytes, now)?;
            Ok((root, top, items))
        })
        .await?;
    // Where each file is on disk is checked outside the writer lock: it touches the disk once
    // per file, and a large folder would hold up every other write.
    crate::db::Db::blocking(move || {
        let top_path = SafePath::parse(&top.path)?;
        let root_dir = storage::root_dir(&data_dir, &root);
        let mut files = Vec::with_capacity(items.len());
        for item in items {
            let disk_path = disk_path(&root_dir, &SafePath::parse(&item.path)?)?;
            files.push((relative(&top_path, &item.path), Grant { entry: item, disk_path }));
        }
        Ok((top, files))
    })
    .await
}

/// Checks before a visitor's upload is read that the link takes files.
pub async fn check_visitor_upload(context: &Context, id: &str, visitor: &Visitor) -> ApiResult<()> {
    let share = admit(context, id, visitor, false).await?.ok_or_else(password_needed)?;
    if !share.is_dir || !share.allow_upload {
        return Err(ApiError::forbidden("This link does not take visitors' files."));
    }
    Ok(())
}

/// Stores a visitor's file in the shared folder through the same write path as the API: it
/// never replaces a file (a taken name becomes `name (1).ext`), and quotas apply.
pub async fn store_visitor_upload(
    context: &Context,
    id: &str,
    ip: &str,
    name: String,
    received: Received,
) -> ApiResult<Entry> {
    let now = context.now_text();
    let data_dir = context.data_dir.clone();
    let (id, ip) = (id.to_string(), ip.to_string());
    context
        .db
        .write(move |tx| {
            let share = usable_share(tx, &id, &now, false)?;
            if !share.is_dir || !share.allow_upload {
                return Err(ApiError::forbidden("This link does not take visitors' files."));
            }
            let (root, top) = shared_entry(tx, &share)?;
            if maker_level(tx, &share, &root)? < Some(Permission::Write) {
                return Err(ApiError::forbidden(
                    "This link no longer takes visitors' files: its maker cannot write here.",
                ));
            }
            let target = SafePath::parse(&top.path)?.join(&name)?;
            let mode = WriteMode { overwrite: false, autorename: true, parent_rev: None };
            let entry = place_file(tx, &data_dir, &root, &target, &received, &mode, &now)?;
            log_access(tx, &share, &root, &entry.path, &ip, "upload", entry.size, now)?;
            Ok(entry)
        })
        .await
}

fn password_needed() -> ApiError {
    ApiError::Unauthorized(
        "This link needs a password: send it in the X-Share-Password header.".into(),
    )
}

/// Counts one download, or answers why the link refuses it.
fn grant(tx: &rusqlite::Connection, share: &ShareRow, now: &str) -> ApiResult<()> {
    if count_download(tx, &share.id, now)? {
        return Ok(());
    }
    // Refused: the row tells why (it cannot change meanwhile: this runs under the writer lock).
    usable_share(tx, &share.id, now, true)?;
    Err(ApiError::Gone("This link's downloads are used up.".into()))
}

/// The level the link's maker has on the root now. A link never opens more than its maker
/// could reach: a maker who was suspended, whose organization was deactivated, or who lost
/// their access to the root takes the link down with them (`None`).
fn maker_level(
    conn: &rusqlite::Connection,
    share: &ShareRow,
    root: &RootRow,
) -> ApiResult<Option<Permission>> {
    let Some(maker) = find_user(conn, share.created_by)? else { return Ok(None) };
    if !maker.active || !organization_chain_active(conn, maker.organization_id)? {
        return Ok(None);
    }
    let maker = Caller {
        user_id: maker.id,
        username: maker.username,
        organization_id: maker.organization_id,
        role: maker.role,
        token_hash: String::new(),
        ip: String::new(),
    };
    root_level_of(conn, &maker, root)
}

/// The link's root and the shared entry, which must still be there and still be within its
/// maker's reach.
fn shared_entry(tx: &rusqlite::Connection, share: &ShareRow) -> ApiResult<(RootRow, Entry)> {
    let root = find_root(tx, share.root_id)?.ok_or_else(link_not_found)?;
    if maker_level(tx, share, &root)?.is_none() {
        return Err(link_not_found());
    }
    let path = SafePath::parse(&share.path)?;
    let entry = if path.is_top() {
        entry_at(tx, &root, &path, false)?
    } else {
        live(crate::db::entries::find_entry(tx, root.id, &path.key())?)
            .ok_or_else(|| ApiError::NotFound("What this link shared is no longer there.".into()))?
    };
    Ok((root, entry))
}

/// A path below a folder, relative to it: `/A/b/c.txt` below `/A` is `b/c.txt`.
fn relative(top: &SafePath, path: &str) -> String {
    let skip = top.names().len();
    path.trim_start_matches('/').split('/').skip(skip).collect::<Vec<_>>().join("/")
}

#[allow(clippy::too_many_arguments, reason = "the fields of an access entry")]
fn log_access(
    tx: &rusqlite::Connection,
    share: &ShareRow,
    root: &RootRow,
    path: &str,
    ip: &str,
    operation: &str,
    bytes: i64,
    now: String,
) -> ApiResult<()> {
    insert_activity(
        tx,
        &NewActivity {
            created: now,
            action: "share.access".into(),
            organization_id: Some(root.organization_id),
            root_id: Some(root.id),
            path: Some(path.to_string()),
            target_user_id: Some(share.created_by),
            ip: Some(ip.to_string()),
            details: json!({
                "link": logged_id(&share.id),
                "operation": operation,
                "bytes": bytes,
            }),
            ..NewActivity::default()
        },
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn share() -> ShareRow {
        ShareRow {
            id: "00112233445566778899aabbccddeeff".into(),
            root_id: 1,
            path: "/a".into(),
            is_dir: false,
            created: String::new(),
            created_by: 1,
            expires: None,
            download_limit: None,
            download_count: 0,
            password_hash: Some("hash".into()),
            allow_upload: false,
        }
    }

    #[test]
    fn cookies_hold_for_their_link_their_time_and_their_password() {
        let now = parse_time("2026-12-03T10:00:00Z").unwrap();
        let share = share();
        let cookie = cookie_value("key", &share, "hash", now.timestamp() + 60);
        assert!(cookie_is_valid("key", &share, "hash", &cookie, now));
        assert!(!cookie_is_valid("other key", &share, "hash", &cookie, now));
        assert!(!cookie_is_valid("key", &share, "new hash", &cookie, now));
        let other = ShareRow { id: "ff".into(), ..share.clone() };
        assert!(!cookie_is_valid("key", &other, "hash", &cookie, now));
        assert!(!cookie_is_valid("key", &share, "hash", &cookie, now + Duration::minutes(2)));
        let forged =
            format!("{}{}", now.timestamp() + 99_999, &cookie[cookie.find('.').unwrap()..]);
        assert!(!cookie_is_valid("key", &share, "hash", &forged, now));
        assert!(!cookie_is_valid("key", &share, "hash", "garbage", now));
    }

    #[test]
    fn expiries_follow_the_policy() {
        let now = parse_time("2026-12-03T10:00:00Z").unwrap();
        let open = Policies::default();
        let capped = Policies { share_link_max_days: 7, ..Policies::default() };
        assert_eq!(expiry(None, now, &open).unwrap(), None);
        assert_eq!(
            expiry(Some("2026-12-05"), now, &open).unwrap().unwrap(),
            "2026-12-05T00:00:00Z"
        );
        assert!(expiry(Some("2026-12-01"), now, &open).is_err());
        assert!(expiry(Some("soon"), now, &open).is_err());
        assert_eq!(expiry(None, now, &capped).unwrap().unwrap(), "2026-12-10T10:00:00Z");
        assert!(expiry(Some("2026-12-31"), now, &capped).is_err());
        assert!(expiry(Some("2026-12-09T00:00:00Z"), now, &capped).is_ok());
    }

    #[test]
    fn relative_paths() {
        assert_eq!(relative(&SafePath::parse("/A").unwrap(), "/A/b/c.txt"), "b/c.txt");
        assert_eq!(relative(&SafePath::top(), "/x.txt"), "x.txt");
    }
}
