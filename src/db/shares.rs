//! The `share_links` and `server_keys` tables: links that open a file or folder to anyone.

use rusqlite::{Connection, OptionalExtension, Row, params};

/// A share link as stored.
#[derive(Clone, Debug)]
pub struct ShareRow {
    pub id: String,
    pub root_id: i64,
    pub path: String,
    pub is_dir: bool,
    pub created: String,
    pub created_by: i64,
    pub expires: Option<String>,
    pub download_limit: Option<i64>,
    pub download_count: i64,
    pub password_hash: Option<String>,
    pub allow_upload: bool,
}

const COLUMNS: &str = "id, root_id, path, is_dir, created, created_by, expires, \
     download_limit, download_count, password_hash, allow_upload";

fn from_row(row: &Row<'_>) -> rusqlite::Result<ShareRow> {
    Ok(ShareRow {
        id: row.get(0)?,
        root_id: row.get(1)?,
        path: row.get(2)?,
        is_dir: row.get(3)?,
        created: row.get(4)?,
        created_by: row.get(5)?,
        expires: row.get(6)?,
        download_limit: row.get(7)?,
        download_count: row.get(8)?,
        password_hash: row.get(9)?,
        allow_upload: row.get(10)?,
    })
}

/// Stores a new link.
pub fn insert_share(conn: &Connection, share: &ShareRow) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO share_links (id, root_id, path, is_dir, created, created_by, expires,
             download_limit, download_count, password_hash, allow_upload)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            share.id,
            share.root_id,
            share.path,
            share.is_dir,
            share.created,
            share.created_by,
            share.expires,
            share.download_limit,
            share.download_count,
            share.password_hash,
            share.allow_upload,
        ],
    )?;
    Ok(())
}

/// The link with this id.
pub fn find_share(conn: &Connection, id: &str) -> rusqlite::Result<Option<ShareRow>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM share_links WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()
}

/// Writes the changeable fields of a link.
pub fn update_share(conn: &Connection, share: &ShareRow) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE share_links SET expires = ?2, download_limit = ?3, password_hash = ?4,
             allow_upload = ?5 WHERE id = ?1",
        params![
            share.id,
            share.expires,
            share.download_limit,
            share.password_hash,
            share.allow_upload
        ],
    )?;
    Ok(())
}

/// Deletes a link.
pub fn delete_share(conn: &Connection, id: &str) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM share_links WHERE id = ?1", [id])?;
    Ok(())
}

/// Counts one download if the link still allows it, deciding in one statement so that
/// concurrent downloads can never pass the limit. Answers whether the download was granted.
pub fn count_download(conn: &Connection, id: &str, now: &str) -> rusqlite::Result<bool> {
    let changed = conn
        .prepare_cached(
            "UPDATE share_links SET download_count = download_count + 1
             WHERE id = ?1
               AND (download_limit IS NULL OR download_count < download_limit)
               AND (expires IS NULL OR expires > ?2)",
        )?
        .execute(params![id, now])?;
    Ok(changed == 1)
}

/// Which links to list.
#[derive(Clone, Copy, Debug)]
pub enum ShareScope {
    /// The links one user made.
    User(i64),
    /// The links made by users of an organization and every organization below it.
    OrganizationTree(i64),
    /// Every link.
    All,
}

/// One page of links in a scope, newest first, and the total in the scope.
pub fn list_shares(
    conn: &Connection,
    scope: ShareScope,
    offset: i64,
    limit: i64,
) -> rusqlite::Result<(Vec<ShareRow>, i64)> {
    let (filter, key) = match scope {
        ShareScope::User(user_id) => ("created_by = ?1", user_id),
        ShareScope::OrganizationTree(org_id) => (
            "created_by IN (SELECT users.id FROM users WHERE users.organization_id IN (
                 WITH RECURSIVE tree(id) AS (
                     SELECT ?1 UNION ALL
                     SELECT organizations.id FROM organizations
                         JOIN tree ON organizations.parent_id = tree.id)
                 SELECT id FROM tree))",
            org_id,
        ),
        ShareScope::All => ("?1 IS NOT NULL", 0),
    };
    let total = conn
        .prepare_cached(&format!("SELECT COUNT(*) FROM share_links WHERE {filter}"))?
        .query_row([key], |row| row.get(0))?;
    let rows = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM share_links WHERE {filter}
             ORDER BY created DESC, id LIMIT ?2 OFFSET ?3"
        ))?
        .query_map(params![key, limit, offset], from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok((rows, total))
}

/// The named server key, if it was made.
pub fn find_server_key(conn: &Connection, name: &str) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached("SELECT key FROM server_keys WHERE name = ?1")?
        .query_row([name], |row| row.get(0))
        .optional()
}

/// The named server key, stored as `fresh` if it did not exist yet.
pub fn get_or_put_server_key(
    conn: &Connection,
    name: &str,
    fresh: &str,
) -> rusqlite::Result<String> {
    conn.execute(
        "INSERT INTO server_keys (name, key) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
        params![name, fresh],
    )?;
    conn.query_row("SELECT key FROM server_keys WHERE name = ?1", [name], |row| row.get(0))
}
