//! The `login_failures` and `lockouts` tables: counting failed sign-ins.
//!
//! Keys are `user:<lowercased name>` for a user name and `ip:<address>` for a client.

use rusqlite::{Connection, OptionalExtension, params};

/// The key under which failures for a user name are counted.
pub fn user_key(login: &str) -> String {
    format!("user:{}", login.to_lowercase())
}

/// The key under which failures from a client address are counted.
pub fn ip_key(ip: &str) -> String {
    format!("ip:{ip}")
}

/// When the key's lockout ends, if it is locked at `now`.
pub fn locked_until(conn: &Connection, key: &str, now: &str) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached("SELECT until FROM lockouts WHERE key = ?1 AND until > ?2")?
        .query_row(params![key, now], |row| row.get(0))
        .optional()
}

/// Records one failure and answers how many the key has had since `window_start`.
pub fn record_failure(
    conn: &Connection,
    key: &str,
    now: &str,
    window_start: &str,
) -> rusqlite::Result<i64> {
    conn.prepare_cached("INSERT INTO login_failures (key, at) VALUES (?1, ?2)")?
        .execute(params![key, now])?;
    conn.prepare_cached("SELECT COUNT(*) FROM login_failures WHERE key = ?1 AND at > ?2")?
        .query_row(params![key, window_start], |row| row.get(0))
}

/// Locks the key until the given time and forgets its counted failures.
pub fn lock(conn: &Connection, key: &str, until: &str) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO lockouts (key, until) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET until = excluded.until",
        params![key, until],
    )?;
    clear_failures(conn, key)
}

/// Forgets a key's failures (after a successful sign-in).
pub fn clear_failures(conn: &Connection, key: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM login_failures WHERE key = ?1")?.execute([key])?;
    Ok(())
}

/// Drops failures and lockouts that no longer matter.
pub fn prune(conn: &Connection, failures_before: &str, now: &str) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM login_failures WHERE at <= ?1", [failures_before])?;
    conn.execute("DELETE FROM lockouts WHERE until <= ?1", [now])?;
    Ok(())
}
