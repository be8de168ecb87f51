//! The `organizations` table.

use rusqlite::{Connection, OptionalExtension, params};

/// Inserts an organization and returns its id.
pub fn insert_organization(
    conn: &Connection,
    name: &str,
    parent_id: Option<i64>,
    created: &str,
) -> rusqlite::Result<i64> {
    conn.execute(
        "INSERT INTO organizations (name, parent_id, created) VALUES (?1, ?2, ?3)",
        params![name, parent_id, created],
    )?;
    Ok(conn.last_insert_rowid())
}

/// The id of the top organization, if the server has been set up.
pub fn find_top_organization(conn: &Connection) -> rusqlite::Result<Option<i64>> {
    conn.query_row("SELECT id FROM organizations WHERE parent_id IS NULL ORDER BY id", [], |row| {
        row.get(0)
    })
    .optional()
}

/// Whether `org_id` is `ancestor_id` or lies below it in the organization tree.
pub fn is_within(conn: &Connection, org_id: i64, ancestor_id: i64) -> rusqlite::Result<bool> {
    conn.prepare_cached(
        "WITH RECURSIVE chain(id, parent_id) AS (
             SELECT id, parent_id FROM organizations WHERE id = ?1
             UNION ALL
             SELECT organizations.id, organizations.parent_id
                 FROM organizations JOIN chain ON organizations.id = chain.parent_id
         )
         SELECT EXISTS (SELECT 1 FROM chain WHERE id = ?2)",
    )?
    .query_row(params![org_id, ancestor_id], |row| row.get(0))
}

/// Whether an organization with this id exists.
pub fn find_organization_exists(conn: &Connection, id: i64) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM organizations WHERE id = ?1)")?
        .query_row([id], |row| row.get(0))
}

/// The quotas of an organization and of every organization above it, nearest first.
pub fn quota_chain(conn: &Connection, org_id: i64) -> rusqlite::Result<Vec<(i64, Option<i64>)>> {
    let mut statement = conn.prepare_cached(
        "WITH RECURSIVE chain(id, parent_id, space_quota, depth) AS (
             SELECT id, parent_id, space_quota, 0 FROM organizations WHERE id = ?1
             UNION ALL
             SELECT organizations.id, organizations.parent_id, organizations.space_quota,
                    chain.depth + 1
                 FROM organizations JOIN chain ON organizations.id = chain.parent_id
         )
         SELECT id, space_quota FROM chain ORDER BY depth",
    )?;
    let rows = statement.query_map([org_id], |row| Ok((row.get(0)?, row.get(1)?)))?;
    rows.collect()
}
