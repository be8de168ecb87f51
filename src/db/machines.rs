//! The `machines` table: agents that sync and back up.

use rusqlite::{Connection, OptionalExtension, Row, params};

/// A machine as stored.
#[derive(Clone, Debug)]
pub struct MachineRow {
    pub id: i64,
    pub guid: String,
    pub name: String,
    pub hostname: String,
    pub machine_type: String,
    pub os_type: String,
    pub os_version: String,
    pub agent_version: String,
    pub user_id: i64,
    pub organization_id: i64,
    pub created: String,
    pub last_seen: Option<String>,
    pub last_ip: Option<String>,
    pub status: String,
}

/// The columns [`from_row`] reads, in order.
const COLUMNS: &str = "id, guid, name, hostname, machine_type, os_type, os_version, \
     agent_version, user_id, organization_id, created, last_seen, last_ip, status";

fn from_row(row: &Row<'_>) -> rusqlite::Result<MachineRow> {
    Ok(MachineRow {
        id: row.get(0)?,
        guid: row.get(1)?,
        name: row.get(2)?,
        hostname: row.get(3)?,
        machine_type: row.get(4)?,
        os_type: row.get(5)?,
        os_version: row.get(6)?,
        agent_version: row.get(7)?,
        user_id: row.get(8)?,
        organization_id: row.get(9)?,
        created: row.get(10)?,
        last_seen: row.get(11)?,
        last_ip: row.get(12)?,
        status: row.get(13)?,
    })
}

/// What an agent says about itself when it registers.
#[derive(Debug)]
pub struct MachineFields<'a> {
    pub name: &'a str,
    pub hostname: &'a str,
    pub machine_type: &'a str,
    pub os_type: &'a str,
    pub os_version: &'a str,
    pub agent_version: &'a str,
}

/// Inserts a machine seen now from `ip`, and returns its id.
pub fn insert_machine(
    conn: &Connection,
    guid: &str,
    fields: &MachineFields<'_>,
    user_id: i64,
    organization_id: i64,
    now: &str,
    ip: &str,
) -> rusqlite::Result<i64> {
    conn.execute(
        "INSERT INTO machines (guid, name, hostname, machine_type, os_type, os_version,
             agent_version, user_id, organization_id, created, last_seen, last_ip)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?11)",
        params![
            guid,
            fields.name,
            fields.hostname,
            fields.machine_type,
            fields.os_type,
            fields.os_version,
            fields.agent_version,
            user_id,
            organization_id,
            now,
            ip,
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Replaces what a known machine says about itself, and marks it seen.
pub fn update_machine_fields(
    conn: &Connection,
    id: i64,
    fields: &MachineFields<'_>,
    now: &str,
    ip: &str,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE machines SET name = ?2, hostname = ?3, machine_type = ?4, os_type = ?5,
             os_version = ?6, agent_version = ?7, last_seen = ?8, last_ip = ?9
         WHERE id = ?1",
        params![
            id,
            fields.name,
            fields.hostname,
            fields.machine_type,
            fields.os_type,
            fields.os_version,
            fields.agent_version,
            now,
            ip,
        ],
    )?;
    Ok(())
}

/// Records a check-in.
pub fn check_in_machine(
    conn: &Connection,
    id: i64,
    now: &str,
    ip: &str,
    status: Option<&str>,
    agent_version: Option<&str>,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE machines SET last_seen = ?2, last_ip = ?3, status = COALESCE(?4, status),
             agent_version = COALESCE(?5, agent_version)
         WHERE id = ?1",
        params![id, now, ip, status, agent_version],
    )?;
    Ok(())
}

/// Finds a machine by id.
pub fn find_machine(conn: &Connection, id: i64) -> rusqlite::Result<Option<MachineRow>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM machines WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()
}

/// Finds a machine by the agent's own id.
pub fn find_machine_by_guid(conn: &Connection, guid: &str) -> rusqlite::Result<Option<MachineRow>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM machines WHERE guid = ?1"))?
        .query_row([guid], from_row)
        .optional()
}

/// Which machines a listing covers.
#[derive(Clone, Copy, Debug)]
pub enum MachineScope {
    /// The machines of one user.
    User(i64),
    /// The machines of users in an organization and every organization below it.
    OrganizationTree(i64),
    /// Every machine.
    All,
}

/// One page of machines in a scope, newest first, and the total in the scope.
pub fn list_machines(
    conn: &Connection,
    scope: MachineScope,
    offset: i64,
    limit: i64,
) -> rusqlite::Result<(Vec<MachineRow>, i64)> {
    let (filter, key) = match scope {
        MachineScope::User(user_id) => ("user_id = ?1", user_id),
        MachineScope::OrganizationTree(org_id) => (
            "organization_id IN (
                 WITH RECURSIVE tree(id) AS (
                     SELECT ?1 UNION ALL
                     SELECT organizations.id FROM organizations
                         JOIN tree ON organizations.parent_id = tree.id)
                 SELECT id FROM tree)",
            org_id,
        ),
        MachineScope::All => ("?1 IS NOT NULL", 0),
    };
    let total = conn
        .prepare_cached(&format!("SELECT COUNT(*) FROM machines WHERE {filter}"))?
        .query_row([key], |row| row.get(0))?;
    let rows = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM machines WHERE {filter} ORDER BY id DESC LIMIT ?2 OFFSET ?3"
        ))?
        .query_map(params![key, limit, offset], from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok((rows, total))
}

/// The ids of the backup roots tied to a machine.
pub fn backup_root_ids(conn: &Connection, machine_id: i64) -> rusqlite::Result<Vec<i64>> {
    conn.prepare_cached("SELECT id FROM roots WHERE machine_id = ?1 ORDER BY id")?
        .query_map([machine_id], |row| row.get(0))?
        .collect()
}

/// Deletes a machine; its backup roots stay, no longer tied to it.
pub fn delete_machine(conn: &Connection, id: i64) -> rusqlite::Result<()> {
    conn.execute("UPDATE roots SET machine_id = NULL WHERE machine_id = ?1", [id])?;
    conn.execute("DELETE FROM machines WHERE id = ?1", [id])?;
    Ok(())
}
