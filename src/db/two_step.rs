//! The second sign-in step's state: the `auth_codes` table, and the last authenticator time
//! step each user signed in with (`users.totp_last_step`).

use rusqlite::{Connection, OptionalExtension, params};

/// A one-time code as stored; the code itself is only known by its hash.
#[derive(Clone, Debug)]
pub struct AuthCodeRow {
    pub id: i64,
    pub user_id: i64,
    pub code_hash: String,
    pub channel: String,
    pub created: String,
    pub expires: String,
    pub attempts: i64,
}

/// Replaces every earlier code of the user with a new one and returns its id: only the
/// newest code sent works.
pub fn replace_codes(
    conn: &Connection,
    user_id: i64,
    code_hash: &str,
    channel: &str,
    created: &str,
    expires: &str,
) -> rusqlite::Result<i64> {
    conn.prepare_cached("DELETE FROM auth_codes WHERE user_id = ?1")?.execute([user_id])?;
    conn.prepare_cached(
        "INSERT INTO auth_codes (user_id, code_hash, channel, created, expires)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![user_id, code_hash, channel, created, expires])?;
    Ok(conn.last_insert_rowid())
}

/// The user's code that can still be used at `now`: not used, not expired, and tried fewer
/// than `max_attempts` times.
pub fn find_live_code(
    conn: &Connection,
    user_id: i64,
    now: &str,
    max_attempts: i64,
) -> rusqlite::Result<Option<AuthCodeRow>> {
    conn.prepare_cached(
        "SELECT id, user_id, code_hash, channel, created, expires, attempts FROM auth_codes
         WHERE user_id = ?1 AND used = 0 AND expires > ?2 AND attempts < ?3
         ORDER BY id DESC LIMIT 1",
    )?
    .query_row(params![user_id, now, max_attempts], |row| {
        Ok(AuthCodeRow {
            id: row.get(0)?,
            user_id: row.get(1)?,
            code_hash: row.get(2)?,
            channel: row.get(3)?,
            created: row.get(4)?,
            expires: row.get(5)?,
            attempts: row.get(6)?,
        })
    })
    .optional()
}

/// Counts one wrong try against a code.
pub fn count_attempt(conn: &Connection, id: i64) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE auth_codes SET attempts = attempts + 1 WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}

/// Marks a code used, so that it never works again.
pub fn use_code(conn: &Connection, id: i64) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE auth_codes SET used = 1 WHERE id = ?1")?.execute([id])?;
    Ok(())
}

/// Removes a code (one that could not be delivered).
pub fn delete_code(conn: &Connection, id: i64) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM auth_codes WHERE id = ?1")?.execute([id])?;
    Ok(())
}

/// Drops codes that expired before `now`; they can never be used.
pub fn prune_codes(conn: &Connection, now: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM auth_codes WHERE expires <= ?1")?.execute([now])?;
    Ok(())
}

/// The last authenticator time step the user signed in with, read inside the transaction
/// that checks a new code so that two sign-ins cannot both use one step.
pub fn totp_last_step(conn: &Connection, user_id: i64) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached("SELECT totp_last_step FROM users WHERE id = ?1")?
        .query_row([user_id], |row| row.get(0))
        .optional()
        .map(Option::flatten)
}

/// Records the authenticator time step a sign-in used.
pub fn set_totp_last_step(conn: &Connection, user_id: i64, step: i64) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE users SET totp_last_step = ?2 WHERE id = ?1")?
        .execute(params![user_id, step])?;
    Ok(())
}
