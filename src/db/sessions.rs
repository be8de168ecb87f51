//! The `sessions` table: session tokens, stored as hashes.

use rusqlite::{Connection, OptionalExtension, params};

use crate::db::users::{self, UserRow};

/// A session with the user it belongs to.
#[derive(Debug)]
pub struct SessionRow {
    pub created: String,
    pub revoked: bool,
    pub user: UserRow,
}

/// Stores a new session under the token's hash.
pub fn insert_session(
    conn: &Connection,
    token_hash: &str,
    user_id: i64,
    created: &str,
    ip: &str,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO sessions (token_hash, user_id, created, ip) VALUES (?1, ?2, ?3, ?4)",
        params![token_hash, user_id, created, ip],
    )?;
    Ok(())
}

/// Finds the session a token hash names, with its user.
pub fn find_session(conn: &Connection, token_hash: &str) -> rusqlite::Result<Option<SessionRow>> {
    let user_columns =
        users::COLUMNS.split(", ").map(|c| format!("users.{}", c.trim())).collect::<Vec<_>>();
    conn.prepare_cached(&format!(
        "SELECT {}, sessions.created, sessions.revoked FROM sessions
             JOIN users ON users.id = sessions.user_id
             WHERE sessions.token_hash = ?1",
        user_columns.join(", ")
    ))?
    .query_row([token_hash], |row| {
        Ok(SessionRow { user: users::from_row(row)?, created: row.get(16)?, revoked: row.get(17)? })
    })
    .optional()
}

/// Revokes one session; answers whether it existed and was live.
pub fn revoke_session(conn: &Connection, token_hash: &str) -> rusqlite::Result<bool> {
    let changed = conn.execute(
        "UPDATE sessions SET revoked = 1 WHERE token_hash = ?1 AND revoked = 0",
        [token_hash],
    )?;
    Ok(changed > 0)
}

/// Revokes every session of a user (suspension, password change).
pub fn revoke_sessions_of_user(conn: &Connection, user_id: i64) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE sessions SET revoked = 1 WHERE user_id = ?1 AND revoked = 0",
        params![user_id],
    )
}

/// Revokes every session of a user but one (a password change keeps the session it came
/// from).
pub fn revoke_other_sessions_of_user(
    conn: &Connection,
    user_id: i64,
    keep_token_hash: &str,
) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE sessions SET revoked = 1 WHERE user_id = ?1 AND revoked = 0 AND token_hash != ?2",
        params![user_id, keep_token_hash],
    )
}
