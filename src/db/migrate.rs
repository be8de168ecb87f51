//! Schema versions, tracked with `PRAGMA user_version`.
//!
//! Version 1 is `schema.sql`. Each later step is appended to [`STEPS`] and never edited once
//! released; all pending steps run in one transaction at start-up.

use rusqlite::Connection;

/// Forward-only schema steps; `STEPS[i]` takes the database from version `i` to `i + 1`.
const STEPS: &[&str] = &[include_str!("../../schema.sql")];

/// The schema version this build expects.
pub const CURRENT_VERSION: usize = STEPS.len();

/// Applies every step the database has not had yet.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    let version = usize::try_from(version).unwrap_or(0);
    if version >= CURRENT_VERSION {
        return Ok(());
    }
    let tx = conn.transaction()?;
    for step in &STEPS[version..] {
        tx.execute_batch(step)?;
    }
    tx.pragma_update(None, "user_version", CURRENT_VERSION as i64)?;
    tx.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_database_reaches_the_current_version_once() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        migrate(&mut conn).unwrap();
        let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0)).unwrap();
        assert_eq!(version, CURRENT_VERSION as i64);
        let tables: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for expected in ["activity", "organizations", "policies", "roots", "sessions", "users"] {
            assert!(tables.iter().any(|t| t == expected), "missing table {expected}");
        }
    }
}
