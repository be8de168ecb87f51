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

/// An organization as stored.
#[derive(Clone, Debug)]
pub struct OrgRow {
    pub id: i64,
    pub name: String,
    pub parent_id: Option<i64>,
    pub email: Option<String>,
    pub description: Option<String>,
    pub space_quota: Option<i64>,
    pub active: bool,
    pub created: String,
}

/// The columns [`org_from_row`] reads, in order.
pub const COLUMNS: &str = "id, name, parent_id, email, description, space_quota, active, created";

/// Reads a row selected with [`COLUMNS`].
pub fn org_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<OrgRow> {
    Ok(OrgRow {
        id: row.get(0)?,
        name: row.get(1)?,
        parent_id: row.get(2)?,
        email: row.get(3)?,
        description: row.get(4)?,
        space_quota: row.get(5)?,
        active: row.get(6)?,
        created: row.get(7)?,
    })
}

/// Finds an organization by id.
pub fn find_organization(conn: &Connection, id: i64) -> rusqlite::Result<Option<OrgRow>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM organizations WHERE id = ?1"))?
        .query_row([id], org_from_row)
        .optional()
}

/// Inserts an organization with all its fields (the id and `created` of `org` are ignored
/// and `created` is taken from the argument); returns the new id.
pub fn insert_organization_row(
    conn: &Connection,
    org: &OrgRow,
    created: &str,
) -> rusqlite::Result<i64> {
    conn.execute(
        "INSERT INTO organizations (name, parent_id, email, description, space_quota, active,
             created)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            org.name,
            org.parent_id,
            org.email,
            org.description,
            org.space_quota,
            org.active,
            created
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Writes every changeable field of an organization back.
pub fn update_organization(conn: &Connection, org: &OrgRow) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE organizations SET name = ?2, parent_id = ?3, email = ?4, description = ?5,
             space_quota = ?6, active = ?7
         WHERE id = ?1",
        params![
            org.id,
            org.name,
            org.parent_id,
            org.email,
            org.description,
            org.space_quota,
            org.active
        ],
    )?;
    Ok(())
}

/// Deletes one organization (its contents must be gone already).
pub fn delete_organization(conn: &Connection, id: i64) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM organizations WHERE id = ?1", [id])?;
    Ok(())
}

/// An organization and every organization below it, deepest first (the order they can be
/// deleted in); the organization itself comes last.
pub fn subtree_ids(conn: &Connection, id: i64) -> rusqlite::Result<Vec<i64>> {
    let mut statement = conn.prepare_cached(
        "WITH RECURSIVE tree(id, depth) AS (
             SELECT id, 0 FROM organizations WHERE id = ?1
             UNION ALL
             SELECT organizations.id, tree.depth + 1
                 FROM organizations JOIN tree ON organizations.parent_id = tree.id
         )
         SELECT id FROM tree ORDER BY depth DESC, id",
    )?;
    let rows = statement.query_map([id], |row| row.get(0))?;
    rows.collect()
}

/// Bytes stored in the roots of an organization and those below it, and the number of
/// users in them.
pub fn subtree_usage(conn: &Connection, id: i64) -> rusqlite::Result<(i64, i64)> {
    conn.prepare_cached(
        "WITH RECURSIVE tree(id) AS (
             SELECT id FROM organizations WHERE id = ?1
             UNION ALL
             SELECT organizations.id FROM organizations JOIN tree ON organizations.parent_id = tree.id
         )
         SELECT (SELECT COALESCE(SUM(space_used), 0) FROM roots
                     WHERE organization_id IN (SELECT id FROM tree)),
                (SELECT COUNT(*) FROM users WHERE organization_id IN (SELECT id FROM tree))",
    )?
    .query_row([id], |row| Ok((row.get(0)?, row.get(1)?)))
}

/// Whether anything lives directly in an organization: users, roots, machines or
/// sub-organizations.
pub fn has_contents(conn: &Connection, id: i64) -> rusqlite::Result<bool> {
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM users WHERE organization_id = ?1)
             OR EXISTS (SELECT 1 FROM roots WHERE organization_id = ?1)
             OR EXISTS (SELECT 1 FROM machines WHERE organization_id = ?1)
             OR EXISTS (SELECT 1 FROM organizations WHERE parent_id = ?1)",
    )?
    .query_row([id], |row| row.get(0))
}

/// Deletes the machines registered in the given organizations.
pub fn delete_machines_in_organizations(
    conn: &Connection,
    organization_ids: &[i64],
) -> rusqlite::Result<usize> {
    let list = organization_ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
    conn.execute(&format!("DELETE FROM machines WHERE organization_id IN ({list})"), [])
}

/// One page of organizations, newest first: the children of `parent_id`, or all of them.
pub fn list_organizations(
    conn: &Connection,
    parent_id: Option<i64>,
    offset: i64,
    limit: i64,
) -> rusqlite::Result<Vec<OrgRow>> {
    let mut statement = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM organizations WHERE (?1 IS NULL OR parent_id = ?1)
         ORDER BY id DESC LIMIT ?2 OFFSET ?3"
    ))?;
    let rows = statement.query_map(params![parent_id, limit, offset], org_from_row)?;
    rows.collect()
}

/// How many organizations [`list_organizations`] would list in all.
pub fn count_organizations(conn: &Connection, parent_id: Option<i64>) -> rusqlite::Result<i64> {
    conn.prepare_cached("SELECT COUNT(*) FROM organizations WHERE (?1 IS NULL OR parent_id = ?1)")?
        .query_row(params![parent_id], |row| row.get(0))
}

/// Whether an organization and every organization above it are active: a user of an
/// inactive organization (or one below it) may not sign in.
pub fn organization_chain_active(conn: &Connection, org_id: i64) -> rusqlite::Result<bool> {
    conn.prepare_cached(
        "WITH RECURSIVE chain(id, parent_id, active) AS (
             SELECT id, parent_id, active FROM organizations WHERE id = ?1
             UNION ALL
             SELECT organizations.id, organizations.parent_id, organizations.active
                 FROM organizations JOIN chain ON organizations.id = chain.parent_id
         )
         SELECT NOT EXISTS (SELECT 1 FROM chain WHERE active = 0)",
    )?
    .query_row([org_id], |row| row.get(0))
}
