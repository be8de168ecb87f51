//! The `activity` table: the log of changes and sign-ins.

use rusqlite::{Connection, params};

use crate::domain::Caller;

/// One entry to append. Fields left `None` are stored as NULL.
#[derive(Debug, Default)]
pub struct NewActivity {
    pub created: String,
    pub action: String,
    pub actor_id: Option<i64>,
    pub actor_username: Option<String>,
    pub organization_id: Option<i64>,
    pub root_id: Option<i64>,
    pub path: Option<String>,
    pub target_user_id: Option<i64>,
    pub target_organization_id: Option<i64>,
    pub machine_id: Option<i64>,
    pub ip: Option<String>,
    pub details: serde_json::Value,
}

impl NewActivity {
    /// An entry for something the caller did, with the actor fields filled in.
    pub fn by(caller: &Caller, created: String, action: impl Into<String>) -> NewActivity {
        NewActivity {
            created,
            action: action.into(),
            actor_id: Some(caller.user_id),
            actor_username: Some(caller.username.clone()),
            organization_id: Some(caller.organization_id),
            ip: Some(caller.ip.clone()),
            ..NewActivity::default()
        }
    }
}

/// Appends an entry and returns its id.
pub fn insert_activity(conn: &Connection, entry: &NewActivity) -> rusqlite::Result<i64> {
    let details =
        if entry.details.is_null() { "{}".to_string() } else { entry.details.to_string() };
    conn.prepare_cached(
        "INSERT INTO activity (created, action, actor_id, actor_username, organization_id,
             root_id, path, target_user_id, target_organization_id, machine_id, ip, details)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?
    .execute(params![
        entry.created,
        entry.action,
        entry.actor_id,
        entry.actor_username,
        entry.organization_id,
        entry.root_id,
        entry.path,
        entry.target_user_id,
        entry.target_organization_id,
        entry.machine_id,
        entry.ip,
        details,
    ])?;
    Ok(conn.last_insert_rowid())
}
