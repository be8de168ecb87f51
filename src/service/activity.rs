//! Reading the activity log by scope, exporting it, and writing custom entries.
//!
//! A read names a scope (a root or a path inside it, a user, an organization, or the whole
//! log), which decides who may read it, plus filters. Entries are written by the services
//! that make the changes; the only entries written here are administrators' `custom.*` ones.

use chrono::NaiveDate;
use unicode_normalization::UnicodeNormalization;

use crate::clock::format_time;
use crate::db::activity::{
    ActionPattern, ActivityFilter, ActivityRow, NewActivity, activity_batch, count_activity,
    find_activity, insert_activity, list_activity, newest_activity_id,
};
use crate::db::orgs::subtree_ids;
use crate::domain::access::{Action, Subject, decide};
use crate::domain::{Caller, Permission};
use crate::error::{ApiError, ApiResult};
use crate::service::Context;
use crate::service::access::root_for;
use crate::service::users::{org_for, user_for};

/// The most entries one export reads from the database at a time.
pub const EXPORT_BATCH: i64 = 1000;

/// Which part of the log a read covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// A root, or a folder or file inside it (`/` for the whole root): entries for that path
    /// and everything below it.
    Root { root_id: i64, path: String },
    /// What a user did and what was done to them.
    User(i64),
    /// An organization and the organizations below it.
    Organization(i64),
    /// The whole log.
    All,
}

/// The filters of a read, as the client gave them.
#[derive(Clone, Debug, Default)]
pub struct Filters {
    pub since: Option<String>,
    pub until: Option<String>,
    pub action: Option<String>,
    pub user_id: Option<i64>,
}

/// A page of entries and how many match in all.
#[derive(Debug)]
pub struct ActivityPage {
    pub entries: Vec<ActivityRow>,
    pub total: i64,
}

/// An export in progress: what it reads, and the newest entry it includes, so that entries
/// written while it streams do not make it run on.
#[derive(Clone, Debug)]
pub struct Export {
    pub filter: ActivityFilter,
    pub up_to_id: i64,
}

/// A custom entry an administrator writes.
#[derive(Debug, Default)]
pub struct CustomEntry {
    pub action: String,
    pub details: Option<String>,
    pub root_id: Option<i64>,
    pub path: Option<String>,
    pub target_user_id: Option<i64>,
    pub organization_id: Option<i64>,
}

/// Reads one page of a scope, newest first.
pub async fn list_activity_page(
    context: &Context,
    caller: &Caller,
    scope: Scope,
    filters: Filters,
    offset: i64,
    limit: i64,
) -> ApiResult<ActivityPage> {
    let filter = parse_filters(&filters)?;
    let caller = caller.clone();
    context
        .db
        .read(move |conn| {
            let filter = authorize_scope(conn, &caller, &scope, filter)?;
            Ok(ActivityPage {
                entries: list_activity(conn, &filter, offset, limit)?,
                total: count_activity(conn, &filter)?,
            })
        })
        .await
}

/// Authorizes an export of a scope and fixes the newest entry it includes.
pub async fn start_export(
    context: &Context,
    caller: &Caller,
    scope: Scope,
    filters: Filters,
) -> ApiResult<Export> {
    let filter = parse_filters(&filters)?;
    let caller = caller.clone();
    context
        .db
        .read(move |conn| {
            let filter = authorize_scope(conn, &caller, &scope, filter)?;
            Ok(Export { filter, up_to_id: newest_activity_id(conn)? })
        })
        .await
}

/// The next entries of an export after `after_id`, oldest first; empty when it is done.
pub async fn export_batch(
    context: &Context,
    export: &Export,
    after_id: i64,
) -> ApiResult<Vec<ActivityRow>> {
    let export = export.clone();
    context
        .db
        .read(move |conn| {
            Ok(activity_batch(conn, &export.filter, after_id, export.up_to_id, EXPORT_BATCH)?)
        })
        .await
}

/// Writes an administrator's own entry; its action must start with `custom.`.
pub async fn create_custom_entry(
    context: &Context,
    caller: &Caller,
    entry: CustomEntry,
) -> ApiResult<ActivityRow> {
    decide(caller, Action::WriteActivity, &Subject::Server)?;
    let action = entry.action.trim().to_string();
    let valid_name = action.len() <= 100
        && action.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !action.starts_with("custom.") || action.len() == "custom.".len() || !valid_name {
        return Err(ApiError::invalid(
            "The parameter 'action' must start with 'custom.' followed by letters, digits, \
             '.', '_' or '-' (at most 100 characters).",
        ));
    }
    let details = match entry.details.as_deref().map(str::trim) {
        None | Some("") => serde_json::json!({}),
        Some(text) => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(value @ serde_json::Value::Object(_)) => value,
            _ => {
                return Err(ApiError::invalid("The parameter 'details' must be a JSON object."));
            }
        },
    };
    let path = match (&entry.path, entry.root_id) {
        (Some(_), None) => {
            return Err(ApiError::invalid("The parameter 'path' needs a 'root_id'."));
        }
        (Some(path), Some(_)) => Some(normalize_path(path)?),
        (None, _) => None,
    };
    let now = context.now_text();
    let caller = caller.clone();
    context
        .db
        .write(move |tx| {
            if let Some(root_id) = entry.root_id {
                root_for(tx, &caller, root_id, Permission::Read)?;
            }
            if let Some(user_id) = entry.target_user_id {
                user_for(tx, &caller, user_id, Action::ReadUser)?;
            }
            let organization_id = match entry.organization_id {
                Some(org_id) => {
                    org_for(tx, &caller, org_id, Action::ReadOrganizationActivity)?;
                    org_id
                }
                None => caller.organization_id,
            };
            let id = insert_activity(
                tx,
                &NewActivity {
                    organization_id: Some(organization_id),
                    root_id: entry.root_id,
                    path,
                    target_user_id: entry.target_user_id,
                    details,
                    ..NewActivity::by(&caller, now, action)
                },
            )?;
            find_activity(tx, id)?.ok_or_else(|| ApiError::not_found("Activity entry"))
        })
        .await
}

/// Checks that the caller may read a scope and narrows the filter to it.
fn authorize_scope(
    conn: &rusqlite::Connection,
    caller: &Caller,
    scope: &Scope,
    mut filter: ActivityFilter,
) -> ApiResult<ActivityFilter> {
    match scope {
        Scope::Root { root_id, path } => {
            root_for(conn, caller, *root_id, Permission::Read)?;
            filter.root_id = Some(*root_id);
            filter.path = Some(normalize_path(path)?);
        }
        Scope::User(user_id) => {
            user_for(conn, caller, *user_id, Action::ReadUser)?;
            filter.about_user = Some(*user_id);
        }
        Scope::Organization(org_id) => {
            org_for(conn, caller, *org_id, Action::ReadOrganizationActivity)?;
            filter.organization_ids = Some(subtree_ids(conn, *org_id)?);
        }
        Scope::All => decide(caller, Action::ReadAllActivity, &Subject::Server)?,
    }
    Ok(filter)
}

/// Turns the client's filters into a database filter, naming any malformed one.
pub fn parse_filters(filters: &Filters) -> ApiResult<ActivityFilter> {
    let since =
        filters.since.as_deref().map(|text| parse_bound("since", text, false)).transpose()?;
    let until =
        filters.until.as_deref().map(|text| parse_bound("until", text, true)).transpose()?;
    let mut actions = Vec::new();
    for item in filters.action.as_deref().unwrap_or_default().split(',') {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        if item.len() > 100 || actions.len() >= 50 {
            return Err(ApiError::invalid(
                "The parameter 'action' takes at most 50 actions of at most 100 characters.",
            ));
        }
        actions.push(match item.strip_suffix('*') {
            Some(prefix) => ActionPattern::Prefix(prefix.to_string()),
            None => ActionPattern::Exact(item.to_string()),
        });
    }
    Ok(ActivityFilter {
        since,
        until,
        actions,
        user_id: filters.user_id,
        ..ActivityFilter::default()
    })
}

/// A `since` or `until` bound in the stored time format. A plain date means the start of
/// that day for `since`, and its last second for `until`, so that `until=2026-12-03`
/// includes the whole day.
fn parse_bound(name: &str, text: &str, end_of_day: bool) -> ApiResult<String> {
    let text = text.trim();
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let time =
            if end_of_day { date.and_hms_opt(23, 59, 59) } else { date.and_hms_opt(0, 0, 0) };
        if let Some(time) = time {
            return Ok(format_time(time.and_utc()));
        }
    }
    match chrono::DateTime::parse_from_rfc3339(text) {
        Ok(time) => Ok(format_time(time.with_timezone(&chrono::Utc))),
        Err(_) => Err(ApiError::invalid(format!(
            "The parameter '{name}' must be an RFC 3339 time such as 2026-12-03T09:30:00Z or a \
             date such as 2026-12-03."
        ))),
    }
}

/// A path inside a root as the log stores it: leading `/`, no trailing `/`, segments in
/// Unicode NFC; `/` for the root itself. A `.` or `..` segment, a backslash or a NUL is
/// refused.
pub fn normalize_path(path: &str) -> ApiResult<String> {
    let mut segments = Vec::new();
    for segment in path.split('/') {
        if segment.is_empty() {
            continue;
        }
        if segment == "." || segment == ".." || segment.contains(['\\', '\0']) {
            return Err(ApiError::invalid(
                "The path may not contain '.', '..', backslashes or NUL characters.",
            ));
        }
        segments.push(segment.nfc().collect::<String>());
    }
    Ok(format!("/{}", segments.join("/")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_times_dates_and_action_patterns() {
        let filter = parse_filters(&Filters {
            since: Some("2026-12-01".into()),
            until: Some("2026-12-03".into()),
            action: Some("auth.login, file.*,,".into()),
            user_id: Some(4),
        })
        .unwrap();
        assert_eq!(filter.since.as_deref(), Some("2026-12-01T00:00:00Z"));
        assert_eq!(filter.until.as_deref(), Some("2026-12-03T23:59:59Z"));
        assert_eq!(
            filter.actions,
            vec![ActionPattern::Exact("auth.login".into()), ActionPattern::Prefix("file.".into())]
        );
        let offset = parse_filters(&Filters {
            since: Some("2026-12-03T10:30:00+01:00".into()),
            ..Filters::default()
        })
        .unwrap();
        assert_eq!(offset.since.as_deref(), Some("2026-12-03T09:30:00Z"));
        let bad = parse_filters(&Filters { until: Some("last week".into()), ..Filters::default() });
        assert!(bad.unwrap_err().to_string().contains("'until'"));
    }

    #[test]
    fn paths_normalize() {
        assert_eq!(normalize_path("").unwrap(), "/");
        assert_eq!(normalize_path("/").unwrap(), "/");
        assert_eq!(normalize_path("Projects//a.txt/").unwrap(), "/Projects/a.txt");
        assert_eq!(normalize_path("Cafe\u{301}").unwrap(), "/Caf\u{e9}");
        assert!(normalize_path("a/../b").is_err());
        assert!(normalize_path("a\\b").is_err());
    }
}
