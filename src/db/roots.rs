//! The `roots` and `root_members` tables.

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::domain::{Permission, RootType};

/// A root as stored.
#[derive(Clone, Debug)]
pub struct RootRow {
    pub id: i64,
    pub name: String,
    pub root_type: RootType,
    pub owner_id: Option<i64>,
    pub organization_id: i64,
    pub machine_id: Option<i64>,
    /// A mapped folder; `None` for a root in the default place under the data folder.
    pub path: Option<String>,
    pub space_quota: Option<i64>,
    pub space_used: i64,
    pub created: String,
}

/// The columns [`from_row`] reads, in order, qualified for joins.
pub const COLUMNS: &str = "roots.id, roots.name, roots.type, roots.owner_id, \
     roots.organization_id, roots.machine_id, roots.path, roots.space_quota, roots.space_used, \
     roots.created";

/// Reads a row selected with [`COLUMNS`].
pub fn from_row(row: &Row<'_>) -> rusqlite::Result<RootRow> {
    let root_type: String = row.get(2)?;
    Ok(RootRow {
        id: row.get(0)?,
        name: row.get(1)?,
        // The CHECK constraint keeps the column to known names.
        root_type: RootType::parse(&root_type).unwrap_or(RootType::Share),
        owner_id: row.get(3)?,
        organization_id: row.get(4)?,
        machine_id: row.get(5)?,
        path: row.get(6)?,
        space_quota: row.get(7)?,
        space_used: row.get(8)?,
        created: row.get(9)?,
    })
}

/// The fields of a new root.
#[derive(Debug)]
pub struct NewRoot<'a> {
    pub name: &'a str,
    pub root_type: RootType,
    pub owner_id: Option<i64>,
    pub organization_id: i64,
    pub machine_id: Option<i64>,
    pub path: Option<&'a str>,
    pub space_quota: Option<i64>,
    pub created: &'a str,
}

/// Inserts a root and returns its id.
pub fn insert_root(conn: &Connection, root: &NewRoot<'_>) -> rusqlite::Result<i64> {
    conn.execute(
        "INSERT INTO roots (name, type, owner_id, organization_id, machine_id, path, space_quota,
             created)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            root.name,
            root.root_type.as_str(),
            root.owner_id,
            root.organization_id,
            root.machine_id,
            root.path,
            root.space_quota,
            root.created,
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Every root a user reaches, with their level: `admin` on the roots they own, the member
/// level on the others. Ordered by id.
pub fn list_roots_for_user(
    conn: &Connection,
    user_id: i64,
) -> rusqlite::Result<Vec<(RootRow, Permission)>> {
    let mut statement = conn.prepare_cached(&format!(
        "SELECT {COLUMNS}, 'admin' FROM roots WHERE owner_id = ?1
         UNION ALL
         SELECT {COLUMNS}, root_members.permission FROM roots
             JOIN root_members ON root_members.root_id = roots.id
             WHERE root_members.user_id = ?1 AND (roots.owner_id IS NULL OR roots.owner_id != ?1)
         ORDER BY 1"
    ))?;
    let rows = statement.query_map([user_id], |row| {
        let level: String = row.get(10)?;
        Ok((from_row(row)?, Permission::parse(&level).unwrap_or(Permission::Read)))
    })?;
    rows.collect()
}

/// The total of `space_used` over the roots a user owns.
pub fn space_used_by_owner(conn: &Connection, user_id: i64) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT COALESCE(SUM(space_used), 0) FROM roots WHERE owner_id = ?1",
        [user_id],
        |row| row.get(0),
    )
}

/// Finds a root by id.
pub fn find_root(conn: &Connection, id: i64) -> rusqlite::Result<Option<RootRow>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM roots WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()
}

/// A user's member level on a root, if they are a member.
pub fn member_permission(
    conn: &Connection,
    root_id: i64,
    user_id: i64,
) -> rusqlite::Result<Option<Permission>> {
    let level: Option<String> = conn
        .prepare_cached("SELECT permission FROM root_members WHERE root_id = ?1 AND user_id = ?2")?
        .query_row(params![root_id, user_id], |row| row.get(0))
        .optional()?;
    Ok(level.as_deref().and_then(Permission::parse))
}

/// Every root, ordered by id. Callers filter by what the caller may see.
pub fn list_all_roots(conn: &Connection) -> rusqlite::Result<Vec<RootRow>> {
    let mut statement = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM roots ORDER BY id"))?;
    let rows = statement.query_map([], from_row)?;
    rows.collect()
}

/// The roots a user owns, by id.
pub fn list_roots_owned_by(conn: &Connection, user_id: i64) -> rusqlite::Result<Vec<RootRow>> {
    let mut statement = conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM roots WHERE owner_id = ?1 ORDER BY id"))?;
    let rows = statement.query_map([user_id], from_row)?;
    rows.collect()
}

/// The roots of the given organizations, and those owned by the given users, by id.
pub fn list_roots_of(
    conn: &Connection,
    organization_ids: &[i64],
    owner_ids: &[i64],
) -> rusqlite::Result<Vec<RootRow>> {
    let orgs = organization_ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
    let owners = owner_ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
    let mut statement = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM roots
         WHERE organization_id IN ({orgs}) OR owner_id IN ({owners}) ORDER BY id"
    ))?;
    let rows = statement.query_map([], from_row)?;
    rows.collect()
}

/// Hands every root `from_user` owns to `to_user`, moving them into `to_organization`. The
/// new owner's member rows on those roots are dropped: as owner they have `admin` anyway.
pub fn transfer_roots(
    conn: &Connection,
    from_user: i64,
    to_user: i64,
    to_organization: i64,
) -> rusqlite::Result<usize> {
    conn.execute(
        "DELETE FROM root_members WHERE user_id = ?2
             AND root_id IN (SELECT id FROM roots WHERE owner_id = ?1)",
        params![from_user, to_user],
    )?;
    conn.execute(
        "UPDATE roots SET owner_id = ?2, organization_id = ?3 WHERE owner_id = ?1",
        params![from_user, to_user, to_organization],
    )
}

/// Changes a root's name and quota.
pub fn update_root(
    conn: &Connection,
    id: i64,
    name: &str,
    space_quota: Option<i64>,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE roots SET name = ?2, space_quota = ?3 WHERE id = ?1",
        params![id, name, space_quota],
    )?;
    Ok(())
}

/// Deletes a root; its members and index entries go with it (foreign keys cascade).
pub fn delete_root(conn: &Connection, id: i64) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM roots WHERE id = ?1", [id])?;
    Ok(())
}

/// Adds `delta` bytes (negative to free) to a root's `space_used`.
pub fn add_space_used(conn: &Connection, id: i64, delta: i64) -> rusqlite::Result<()> {
    if delta != 0 {
        conn.prepare_cached("UPDATE roots SET space_used = MAX(0, space_used + ?2) WHERE id = ?1")?
            .execute(params![id, delta])?;
    }
    Ok(())
}

/// Sets a root's `space_used` outright (a repair after counting its files).
pub fn set_space_used(conn: &Connection, id: i64, bytes: i64) -> rusqlite::Result<()> {
    conn.execute("UPDATE roots SET space_used = ?2 WHERE id = ?1", params![id, bytes])?;
    Ok(())
}

/// The total of `space_used` over the roots of an organization and those below it.
pub fn space_used_by_organization(conn: &Connection, org_id: i64) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "WITH RECURSIVE below(id) AS (
             SELECT ?1
             UNION ALL
             SELECT organizations.id FROM organizations JOIN below
                 ON organizations.parent_id = below.id
         )
         SELECT COALESCE(SUM(space_used), 0) FROM roots
             WHERE organization_id IN (SELECT id FROM below)",
    )?
    .query_row([org_id], |row| row.get(0))
}

/// A member of a root, with their user name.
#[derive(Clone, Debug)]
pub struct MemberRow {
    pub user_id: i64,
    pub username: String,
    pub permission: Permission,
}

/// The members of a root, ordered by user name.
pub fn list_members(conn: &Connection, root_id: i64) -> rusqlite::Result<Vec<MemberRow>> {
    let mut statement = conn.prepare_cached(
        "SELECT users.id, users.username, root_members.permission FROM root_members
             JOIN users ON users.id = root_members.user_id
             WHERE root_members.root_id = ?1 ORDER BY users.username",
    )?;
    let rows = statement.query_map([root_id], |row| {
        let level: String = row.get(2)?;
        Ok(MemberRow {
            user_id: row.get(0)?,
            username: row.get(1)?,
            permission: Permission::parse(&level).unwrap_or(Permission::Read),
        })
    })?;
    rows.collect()
}

/// Adds a member or changes the level of an existing one.
pub fn put_member(
    conn: &Connection,
    root_id: i64,
    user_id: i64,
    permission: Permission,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO root_members (root_id, user_id, permission) VALUES (?1, ?2, ?3)
         ON CONFLICT (root_id, user_id) DO UPDATE SET permission = excluded.permission",
        params![root_id, user_id, permission.as_str()],
    )?;
    Ok(())
}

/// Removes a member; answers whether there was one.
pub fn remove_member(conn: &Connection, root_id: i64, user_id: i64) -> rusqlite::Result<bool> {
    let removed = conn.execute(
        "DELETE FROM root_members WHERE root_id = ?1 AND user_id = ?2",
        params![root_id, user_id],
    )?;
    Ok(removed > 0)
}

/// The owner of a machine, if the machine exists.
pub fn machine_owner(conn: &Connection, machine_id: i64) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached("SELECT user_id FROM machines WHERE id = ?1")?
        .query_row([machine_id], |row| row.get(0))
        .optional()
}

/// Moves a user's own sync and backup roots into another organization (the user moved
/// there). Team Shares stay where they are: they belong to their organization.
pub fn move_personal_roots(
    conn: &Connection,
    owner_id: i64,
    organization_id: i64,
) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE roots SET organization_id = ?2 WHERE owner_id = ?1 AND type IN ('sync', 'backup')",
        params![owner_id, organization_id],
    )
}
