//! The `entries`, `revisions` and `uploads` tables: the index of files and folders.

use rusqlite::{Connection, OptionalExtension, Row, params};

/// A file or folder as indexed.
#[derive(Clone, Debug)]
pub struct EntryRow {
    pub id: i64,
    pub root_id: i64,
    pub path: String,
    pub path_key: String,
    pub name: String,
    pub is_dir: bool,
    pub size: i64,
    pub modified: String,
    pub rev: String,
    pub content_hash: Option<String>,
    pub is_deleted: bool,
    pub change_seq: i64,
}

const COLUMNS: &str = "id, root_id, path, path_key, name, is_dir, size, modified, rev, \
     content_hash, is_deleted, change_seq";

fn from_row(row: &Row<'_>) -> rusqlite::Result<EntryRow> {
    Ok(EntryRow {
        id: row.get(0)?,
        root_id: row.get(1)?,
        path: row.get(2)?,
        path_key: row.get(3)?,
        name: row.get(4)?,
        is_dir: row.get(5)?,
        size: row.get(6)?,
        modified: row.get(7)?,
        rev: row.get(8)?,
        content_hash: row.get(9)?,
        is_deleted: row.get(10)?,
        change_seq: row.get(11)?,
    })
}

/// The fields written for an entry.
#[derive(Debug)]
pub struct PutEntry<'a> {
    pub root_id: i64,
    pub path: &'a str,
    pub path_key: &'a str,
    pub parent_key: &'a str,
    pub name: &'a str,
    pub is_dir: bool,
    pub size: i64,
    pub modified: &'a str,
    pub rev: &'a str,
    pub content_hash: Option<&'a str>,
    pub is_deleted: bool,
    pub change_seq: i64,
}

/// Writes an entry: a new row, or the row already holding that path key (a deleted entry
/// coming back keeps its id, and with it its revisions). Returns the row's id.
pub fn put_entry(conn: &Connection, entry: &PutEntry<'_>) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "INSERT INTO entries (root_id, path, path_key, parent_key, name, name_key, is_dir, size,
             modified, rev, content_hash, is_deleted, change_seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?13, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
         ON CONFLICT (root_id, path_key) DO UPDATE SET path = excluded.path,
             name = excluded.name, name_key = excluded.name_key, is_dir = excluded.is_dir,
             size = excluded.size, modified = excluded.modified, rev = excluded.rev,
             content_hash = excluded.content_hash, is_deleted = excluded.is_deleted,
             change_seq = excluded.change_seq
         RETURNING id",
    )?
    .query_row(
        params![
            entry.root_id,
            entry.path,
            entry.path_key,
            entry.parent_key,
            entry.name,
            entry.is_dir,
            entry.size,
            entry.modified,
            entry.rev,
            entry.content_hash,
            entry.is_deleted,
            entry.change_seq,
            // SQLite's lower() folds only ASCII, so the key is made here.
            entry.name.to_lowercase(),
        ],
        |row| row.get(0),
    )
}

/// The entry at a path key, deleted or not.
pub fn find_entry(
    conn: &Connection,
    root_id: i64,
    path_key: &str,
) -> rusqlite::Result<Option<EntryRow>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM entries WHERE root_id = ?1 AND path_key = ?2"
    ))?
    .query_row(params![root_id, path_key], from_row)
    .optional()
}

/// How many entries a folder holds directly.
pub fn count_children(
    conn: &Connection,
    root_id: i64,
    parent_key: &str,
    include_deleted: bool,
) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "SELECT COUNT(*) FROM entries
             WHERE root_id = ?1 AND parent_key = ?2 AND (?3 OR is_deleted = 0)",
    )?
    .query_row(params![root_id, parent_key, include_deleted], |row| row.get(0))
}

/// The entries a folder holds directly, ordered by path key.
pub fn list_children(
    conn: &Connection,
    root_id: i64,
    parent_key: &str,
    include_deleted: bool,
) -> rusqlite::Result<Vec<EntryRow>> {
    let mut statement = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM entries
             WHERE root_id = ?1 AND parent_key = ?2 AND (?3 OR is_deleted = 0)
             ORDER BY path_key"
    ))?;
    let rows = statement.query_map(params![root_id, parent_key, include_deleted], from_row)?;
    rows.collect()
}

/// Everything below a folder (not the folder itself), deleted or not, ordered by path key so
/// that folders come before their contents.
pub fn list_below(
    conn: &Connection,
    root_id: i64,
    path_key: &str,
) -> rusqlite::Result<Vec<EntryRow>> {
    let (low, high) = below_range(path_key);
    let mut statement = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM entries
             WHERE root_id = ?1 AND path_key >= ?2 AND path_key < ?3 ORDER BY path_key"
    ))?;
    let rows = statement.query_map(params![root_id, low, high], from_row)?;
    rows.collect()
}

/// Up to `limit` live files below a folder, ordered by path key, and how many there are in
/// all.
pub fn live_files_below(
    conn: &Connection,
    root_id: i64,
    path_key: &str,
    limit: i64,
) -> rusqlite::Result<(Vec<EntryRow>, i64)> {
    let (low, high) = below_range(path_key);
    let live_files = "root_id = ?1 AND path_key >= ?2 AND path_key < ?3 AND is_dir = 0 \
                      AND is_deleted = 0";
    let count = conn
        .prepare_cached(&format!("SELECT COUNT(*) FROM entries WHERE {live_files}"))?
        .query_row(params![root_id, low, high], |row| row.get(0))?;
    let mut statement = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM entries WHERE {live_files} ORDER BY path_key LIMIT ?4"
    ))?;
    let rows = statement.query_map(params![root_id, low, high, limit], from_row)?;
    Ok((rows.collect::<rusqlite::Result<_>>()?, count))
}

/// The key range holding everything below a folder: keys starting with `<folder>/`.
fn below_range(path_key: &str) -> (String, String) {
    let base = if path_key == "/" { String::new() } else { path_key.to_string() };
    // '0' is the character after '/', so the range ends just past every `<folder>/...` key.
    (format!("{base}/"), format!("{base}0"))
}

/// Entries below a folder whose name contains `needle` (lowercased), ordered by path key.
pub fn search_below(
    conn: &Connection,
    root_id: i64,
    path_key: &str,
    needle: &str,
    include_deleted: bool,
    limit: i64,
) -> rusqlite::Result<Vec<EntryRow>> {
    let (low, high) = below_range(path_key);
    let mut statement = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM entries
             WHERE root_id = ?1 AND path_key >= ?2 AND path_key < ?3
                 AND instr(name_key, ?4) > 0 AND (?5 OR is_deleted = 0)
             ORDER BY path_key LIMIT ?6"
    ))?;
    let rows = statement
        .query_map(params![root_id, low, high, needle, include_deleted, limit], from_row)?;
    rows.collect()
}

/// Changes of a root after `after_seq`, oldest first.
pub fn list_changes(
    conn: &Connection,
    root_id: i64,
    after_seq: i64,
    limit: i64,
) -> rusqlite::Result<Vec<EntryRow>> {
    let mut statement = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM entries WHERE root_id = ?1 AND change_seq > ?2
             ORDER BY change_seq LIMIT ?3"
    ))?;
    let rows = statement.query_map(params![root_id, after_seq, limit], from_row)?;
    rows.collect()
}

/// The next position in a root's change feed.
pub fn next_change_seq(conn: &Connection, root_id: i64) -> rusqlite::Result<i64> {
    conn.prepare_cached("SELECT COALESCE(MAX(change_seq), 0) + 1 FROM entries WHERE root_id = ?1")?
        .query_row([root_id], |row| row.get(0))
}

/// The last position in a root's change feed (0 when nothing happened yet).
pub fn last_change_seq(conn: &Connection, root_id: i64) -> rusqlite::Result<i64> {
    Ok(next_change_seq(conn, root_id)? - 1)
}

/// Marks an entry deleted at a feed position, with a new rev.
pub fn mark_deleted(
    conn: &Connection,
    id: i64,
    rev: &str,
    modified: &str,
    seq: i64,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE entries SET is_deleted = 1, rev = ?2, modified = ?3, change_seq = ?4
             WHERE id = ?1",
    )?
    .execute(params![id, rev, modified, seq])?;
    Ok(())
}

/// Moves an entry to another root and path.
#[allow(clippy::too_many_arguments, reason = "one column per argument")]
pub fn relocate_entry(
    conn: &Connection,
    id: i64,
    root_id: i64,
    path: &str,
    path_key: &str,
    parent_key: &str,
    name: &str,
    seq: i64,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE entries SET root_id = ?2, path = ?3, path_key = ?4, parent_key = ?5, name = ?6,
             name_key = ?7, change_seq = ?8 WHERE id = ?1",
    )?
    .execute(params![
        id,
        root_id,
        path,
        path_key,
        parent_key,
        name,
        name.to_lowercase(),
        seq
    ])?;
    Ok(())
}

/// Removes entry rows for good (with their revision rows), e.g. deleted entries a move
/// lands on. Returns the revs of the versions whose bytes were stored.
pub fn purge_entries(conn: &Connection, ids: &[i64]) -> rusqlite::Result<Vec<String>> {
    let mut stored = Vec::new();
    for id in ids {
        let mut statement =
            conn.prepare_cached("SELECT rev FROM revisions WHERE entry_id = ?1 AND stored = 1")?;
        let revs = statement.query_map([id], |row| row.get::<_, String>(0))?;
        for rev in revs {
            stored.push(rev?);
        }
        conn.prepare_cached("DELETE FROM entries WHERE id = ?1")?.execute([id])?;
    }
    Ok(stored)
}

/// A stored version of a file.
#[derive(Clone, Debug)]
pub struct RevisionRow {
    pub rev: String,
    pub entry_id: i64,
    pub size: i64,
    pub content_hash: String,
    pub modified: String,
    /// Whether its bytes sit in the revisions folder (else they are the live file).
    pub stored: bool,
}

const REVISION_COLUMNS: &str = "rev, entry_id, size, content_hash, modified, stored";

fn revision_from_row(row: &Row<'_>) -> rusqlite::Result<RevisionRow> {
    Ok(RevisionRow {
        rev: row.get(0)?,
        entry_id: row.get(1)?,
        size: row.get(2)?,
        content_hash: row.get(3)?,
        modified: row.get(4)?,
        stored: row.get(5)?,
    })
}

/// Records a new live version of a file.
pub fn insert_revision(conn: &Connection, revision: &RevisionRow) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO revisions (rev, entry_id, size, content_hash, modified, stored)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        revision.rev,
        revision.entry_id,
        revision.size,
        revision.content_hash,
        revision.modified,
        revision.stored,
    ])?;
    Ok(())
}

/// Notes that a version's bytes now sit in the revisions folder.
pub fn set_revision_stored(conn: &Connection, rev: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE revisions SET stored = 1 WHERE rev = ?1")?.execute([rev])?;
    Ok(())
}

/// A version by its rev.
pub fn find_revision(conn: &Connection, rev: &str) -> rusqlite::Result<Option<RevisionRow>> {
    conn.prepare_cached(&format!("SELECT {REVISION_COLUMNS} FROM revisions WHERE rev = ?1"))?
        .query_row([rev], revision_from_row)
        .optional()
}

/// The versions of an entry, newest first.
pub fn list_revisions(
    conn: &Connection,
    entry_id: i64,
    limit: i64,
) -> rusqlite::Result<Vec<RevisionRow>> {
    let mut statement = conn.prepare_cached(&format!(
        "SELECT {REVISION_COLUMNS} FROM revisions WHERE entry_id = ?1 ORDER BY id DESC LIMIT ?2"
    ))?;
    let rows = statement.query_map(params![entry_id, limit], revision_from_row)?;
    rows.collect()
}

/// A chunked upload in progress.
#[derive(Clone, Debug)]
pub struct UploadRow {
    pub id: String,
    pub user_id: i64,
    pub received: i64,
    pub expires: String,
}

/// Starts a chunked upload.
pub fn insert_upload(conn: &Connection, upload: &UploadRow, created: &str) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO uploads (id, user_id, received, created, expires) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![upload.id, upload.user_id, upload.received, created, upload.expires],
    )?;
    Ok(())
}

/// A chunked upload by id.
pub fn find_upload(conn: &Connection, id: &str) -> rusqlite::Result<Option<UploadRow>> {
    conn.prepare_cached("SELECT id, user_id, received, expires FROM uploads WHERE id = ?1")?
        .query_row([id], |row| {
            Ok(UploadRow {
                id: row.get(0)?,
                user_id: row.get(1)?,
                received: row.get(2)?,
                expires: row.get(3)?,
            })
        })
        .optional()
}

/// Records the bytes received and the new expiry of a chunked upload.
pub fn update_upload(
    conn: &Connection,
    id: &str,
    received: i64,
    expires: &str,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE uploads SET received = ?2, expires = ?3 WHERE id = ?1",
        params![id, received, expires],
    )?;
    Ok(())
}

/// Forgets a chunked upload.
pub fn delete_upload(conn: &Connection, id: &str) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM uploads WHERE id = ?1", [id])?;
    Ok(())
}

/// Forgets the uploads that expired before `now`, returning their ids.
pub fn delete_expired_uploads(conn: &Connection, now: &str) -> rusqlite::Result<Vec<String>> {
    let mut statement = conn.prepare("DELETE FROM uploads WHERE expires < ?1 RETURNING id")?;
    let rows = statement.query_map([now], |row| row.get(0))?;
    rows.collect()
}

/// Ids of every chunked upload known.
pub fn list_upload_ids(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut statement = conn.prepare("SELECT id FROM uploads")?;
    let rows = statement.query_map([], |row| row.get(0))?;
    rows.collect()
}

/// The revs of a root's versions whose bytes sit in the revisions folder.
pub fn stored_revs_of_root(conn: &Connection, root_id: i64) -> rusqlite::Result<Vec<String>> {
    let mut statement = conn.prepare_cached(
        "SELECT revisions.rev FROM revisions JOIN entries ON entries.id = revisions.entry_id
             WHERE entries.root_id = ?1 AND revisions.stored = 1",
    )?;
    let rows = statement.query_map([root_id], |row| row.get(0))?;
    rows.collect()
}

/// Makes cursors before feed position `seq` of a root start over.
pub fn raise_delta_floor(conn: &Connection, root_id: i64, seq: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO delta_floors (root_id, seq) VALUES (?1, ?2)
         ON CONFLICT (root_id) DO UPDATE SET seq = MAX(seq, excluded.seq)",
    )?
    .execute(params![root_id, seq])?;
    Ok(())
}

/// The first feed position of a root a cursor may continue from (0: all of it).
pub fn delta_floor(conn: &Connection, root_id: i64) -> rusqlite::Result<i64> {
    Ok(conn
        .prepare_cached("SELECT seq FROM delta_floors WHERE root_id = ?1")?
        .query_row([root_id], |row| row.get(0))
        .optional()?
        .unwrap_or(0))
}

/// A version as `cloudsync check` compares it with the revisions folder.
#[derive(Clone, Debug)]
pub struct RevisionState {
    pub rev: String,
    pub size: i64,
    pub stored: bool,
    /// Whether it is the current content of a live file (its bytes are the file itself).
    pub is_live: bool,
}

/// Every version, with whether it is the live content of its entry.
pub fn list_revision_states(conn: &Connection) -> rusqlite::Result<Vec<RevisionState>> {
    let mut statement = conn.prepare(
        "SELECT revisions.rev, revisions.size, revisions.stored,
                entries.rev = revisions.rev AND entries.is_deleted = 0
             FROM revisions JOIN entries ON entries.id = revisions.entry_id",
    )?;
    let rows = statement.query_map([], |row| {
        Ok(RevisionState {
            rev: row.get(0)?,
            size: row.get(1)?,
            stored: row.get(2)?,
            is_live: row.get(3)?,
        })
    })?;
    rows.collect()
}

/// The bytes of a root's live files according to the index.
pub fn live_file_bytes(conn: &Connection, root_id: i64) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "SELECT COALESCE(SUM(size), 0) FROM entries
             WHERE root_id = ?1 AND is_dir = 0 AND is_deleted = 0",
    )?
    .query_row([root_id], |row| row.get(0))
}
