//! Files and folders: uploads, downloads, listings, and the file operations.
//!
//! Every change runs in one write transaction that checks the caller's level, checks quotas,
//! does the disk step (a rename, which is quick; bytes were streamed and synced before) and
//! records the index rows, usage and activity entry. Holding the writer lock across the rename
//! and the commit keeps the disk and the index in the same order when two uploads race for one
//! path. Reads (listings, search, revisions, delta) are indexed queries, never walks.

use std::path::{Path, PathBuf};

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::db::activity::{NewActivity, insert_activity};
use crate::db::entries::{
    self, EntryRow, PutEntry, RevisionRow, count_children, find_entry, find_revision,
    insert_revision, list_below, list_children, list_revisions, mark_deleted, next_change_seq,
    put_entry, set_revision_stored,
};
use crate::db::orgs::quota_chain;
use crate::db::roots::{
    RootRow, add_space_used, find_root, space_used_by_organization, space_used_by_owner,
};
use crate::db::users::find_user;
use crate::domain::{Caller, Permission};
use crate::error::{ApiError, ApiResult};
use crate::service::Context;
use crate::service::access::root_for;
use crate::service::reconcile;
use crate::storage::files::{self as disk, Received, TempFile};
use crate::storage::paths::SafePath;
use crate::storage::{self, disk_path};

/// The most entries a listing may return (`file_limit` above it is refused).
pub const MAX_FILE_LIMIT: i64 = 25_000;
/// The most revisions one request lists.
pub const MAX_REV_LIMIT: i64 = 1000;
/// The most changes one delta answer carries.
pub const DELTA_PAGE: i64 = 1000;

/// How a write treats an existing file.
#[derive(Clone, Debug)]
pub struct WriteMode {
    /// Replace an existing file (else the write is a conflict).
    pub overwrite: bool,
    /// On a conflict, store beside it as `name (1).ext` instead of answering 409.
    pub autorename: bool,
    /// The rev the client last saw; a different latest rev is a conflict.
    pub parent_rev: Option<String>,
}

/// A file or folder, with the root it is in.
pub type Entry = EntryRow;

/// A folder with what it holds.
#[derive(Debug)]
pub struct Listing {
    pub entry: Entry,
    /// `None` when the entry is a file or the listing was not asked for.
    pub contents: Option<Vec<Entry>>,
    /// A hash of the listing; clients send it back to learn whether it changed.
    pub hash: Option<String>,
}

/// What a metadata request found.
#[derive(Debug)]
pub enum MetadataAnswer {
    Found(Box<Listing>),
    /// The folder's listing hash is still the one the client has.
    NotModified,
}

/// A file ready to be sent: where its bytes are and what they are.
#[derive(Debug)]
pub struct Download {
    pub entry: Entry,
    pub disk_path: PathBuf,
    pub rev: String,
    pub size: i64,
}

/// Checks before an upload is read that the caller may write there and that a body of
/// `declared` bytes (when the client said) fits the quotas, counting the file it may replace,
/// so that a refused upload is not streamed first. The check is repeated at commit.
pub async fn check_upload(
    context: &Context,
    caller: &Caller,
    root_id: i64,
    path: Option<SafePath>,
    declared: Option<i64>,
) -> ApiResult<()> {
    let caller = caller.clone();
    context
        .db
        .read(move |conn| {
            let (root, _) = root_for(conn, &caller, root_id, Permission::Write)?;
            if let Some(bytes) = declared {
                let replaced = match &path {
                    Some(path) => live(find_entry(conn, root_id, &path.key())?)
                        .filter(|entry| !entry.is_dir)
                        .map_or(0, |entry| entry.size),
                    None => 0,
                };
                check_quotas(conn, &root, bytes - replaced)?;
            }
            Ok(())
        })
        .await
}

/// Stores a received upload at `path` (`files_put`, commit of a chunked upload).
pub async fn store_upload(
    context: &Context,
    caller: &Caller,
    root_id: i64,
    path: SafePath,
    received: Received,
    mode: WriteMode,
) -> ApiResult<Entry> {
    if path.is_top() {
        return Err(ApiError::invalid("The path must name a file, not the top of the root."));
    }
    let now = context.now_text();
    let data_dir = context.data_dir.clone();
    let caller = caller.clone();
    context
        .db
        .write(move |tx| {
            let (root, _) = root_for(tx, &caller, root_id, Permission::Write)?;
            let entry = place_file(tx, &data_dir, &root, &path, &received, &mode, &now)?;
            let mut activity = NewActivity::by(&caller, now, "file.upload");
            activity.root_id = Some(root_id);
            activity.path = Some(entry.path.clone());
            activity.details = json!({"bytes": entry.size, "rev": entry.rev});
            insert_activity(tx, &activity)?;
            Ok(entry)
        })
        .await
}

/// Puts a received file into the index and the root's folder. Runs inside a write
/// transaction; the caller has been checked.
pub(crate) fn place_file(
    tx: &rusqlite::Connection,
    data_dir: &Path,
    root: &RootRow,
    path: &SafePath,
    received: &Received,
    mode: &WriteMode,
    now: &str,
) -> ApiResult<Entry> {
    let root_dir = storage::root_dir(data_dir, root);
    // Refuse links leading out before anything is made.
    disk_path(&root_dir, path)?;
    let parent = path.parent().unwrap_or_else(SafePath::top);
    let parent = ensure_folder(tx, data_dir, root, &parent, now)?;
    let mut target = parent.join(path.name())?;
    let mut existing = live(find_entry(tx, root.id, &target.key())?);
    if let Some(current) = &existing {
        let conflict = current.is_dir
            || current.name != target.name()
            || !mode.overwrite
            || mode.parent_rev.as_ref().is_some_and(|rev| *rev != current.rev);
        if conflict {
            if !mode.autorename {
                return Err(conflict_error(current));
            }
            target = free_name(tx, root.id, &target)?;
            existing = None;
        }
    }
    let replaced = existing.as_ref().map_or(0, |current| current.size);
    check_quotas(tx, root, received.size - replaced)?;
    let disk_target = disk_path(&root_dir, &target)?;
    if let Some(current) = &existing {
        disk::keep_version(data_dir, &disk_target, &current.rev)?;
        set_revision_stored(tx, &current.rev)?;
    }
    disk::place(&received.temp, &disk_target)?;
    let rev = new_rev();
    let entry = write_entry(
        tx,
        root.id,
        &target,
        false,
        received.size,
        now,
        &rev,
        Some(&received.content_hash),
        false,
    )?;
    insert_revision(
        tx,
        &RevisionRow {
            rev: rev.clone(),
            entry_id: entry.id,
            size: received.size,
            content_hash: received.content_hash.clone(),
            modified: now.to_string(),
            stored: false,
        },
    )?;
    add_space_used(tx, root.id, received.size - replaced)?;
    Ok(entry)
}

fn conflict_error(current: &Entry) -> ApiError {
    if current.is_dir {
        ApiError::conflict(format!("A folder already exists at '{}'.", current.path))
    } else {
        ApiError::conflict(format!(
            "A file already exists at '{}' (rev {}); nothing was written.",
            current.path, current.rev
        ))
    }
}

/// The first of `name (1).ext`, `name (2).ext`, ... that is free in the folder.
fn free_name(tx: &rusqlite::Connection, root_id: i64, target: &SafePath) -> ApiResult<SafePath> {
    let name = target.name();
    let (stem, extension) = match name.rfind('.') {
        Some(at) if at > 0 => (&name[..at], &name[at..]),
        _ => (name, ""),
    };
    for number in 1..10_000 {
        let candidate = target.with_name(&format!("{stem} ({number}){extension}"))?;
        if live(find_entry(tx, root_id, &candidate.key())?).is_none() {
            return Ok(candidate);
        }
    }
    Err(ApiError::conflict(format!("No free name was found beside '{}'.", target.as_text())))
}

/// Makes sure a folder exists (creating it and the folders above it, in the index and on
/// disk) and answers its path as stored, so that `/docs/x` lands in an existing `/Docs`.
fn ensure_folder(
    tx: &rusqlite::Connection,
    data_dir: &Path,
    root: &RootRow,
    folder: &SafePath,
    now: &str,
) -> ApiResult<SafePath> {
    let root_dir = storage::root_dir(data_dir, root);
    let mut actual = SafePath::top();
    for name in folder.names() {
        let wanted = actual.join(name)?;
        match live(find_entry(tx, root.id, &wanted.key())?) {
            Some(entry) if entry.is_dir => actual = actual.join(&entry.name)?,
            Some(entry) => {
                return Err(ApiError::conflict(format!(
                    "A file is in the way: '{}' is not a folder.",
                    entry.path
                )));
            }
            None => {
                let on_disk = disk_path(&root_dir, &wanted)?;
                std::fs::create_dir_all(&on_disk)?;
                write_entry(tx, root.id, &wanted, true, 0, now, &new_rev(), None, false)?;
                actual = wanted;
            }
        }
    }
    Ok(actual)
}

#[allow(clippy::too_many_arguments, reason = "the columns of an entry")]
pub(crate) fn write_entry(
    tx: &rusqlite::Connection,
    root_id: i64,
    path: &SafePath,
    is_dir: bool,
    size: i64,
    modified: &str,
    rev: &str,
    content_hash: Option<&str>,
    is_deleted: bool,
) -> ApiResult<Entry> {
    let text = path.as_text();
    let key = path.key();
    let parent_key = path.parent().map_or_else(|| "/".to_string(), |parent| parent.key());
    let seq = next_change_seq(tx, root_id)?;
    put_entry(
        tx,
        &PutEntry {
            root_id,
            path: &text,
            path_key: &key,
            parent_key: &parent_key,
            name: path.name(),
            is_dir,
            size,
            modified,
            rev,
            content_hash,
            is_deleted,
            change_seq: seq,
        },
    )?;
    find_entry(tx, root_id, &key)?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("entry vanished after writing")))
}

/// A new opaque rev: 64 random bits in hex.
pub(crate) fn new_rev() -> String {
    format!("{:016x}", rand::random::<u64>())
}

pub(crate) fn live(entry: Option<Entry>) -> Option<Entry> {
    entry.filter(|entry| !entry.is_deleted)
}

/// Refuses a write of `delta` more bytes that would pass the quota of the root, of its owner
/// (summed over the roots they own) or of its organization or any organization above it.
pub fn check_quotas(conn: &rusqlite::Connection, root: &RootRow, delta: i64) -> ApiResult<()> {
    if delta <= 0 {
        return Ok(());
    }
    if let Some(quota) = root.space_quota
        && root.space_used + delta > quota
    {
        return Err(ApiError::QuotaExceeded(format!(
            "This write would pass the root's quota of {quota} bytes."
        )));
    }
    if let Some(owner_id) = root.owner_id
        && let Some(owner) = find_user(conn, owner_id)?
        && let Some(quota) = owner.space_quota
        && space_used_by_owner(conn, owner_id)? + delta > quota
    {
        return Err(ApiError::QuotaExceeded(format!(
            "This write would pass the owner's quota of {quota} bytes."
        )));
    }
    for (org_id, quota) in quota_chain(conn, root.organization_id)? {
        if let Some(quota) = quota
            && space_used_by_organization(conn, org_id)? + delta > quota
        {
            return Err(ApiError::QuotaExceeded(format!(
                "This write would pass the organization's quota of {quota} bytes."
            )));
        }
    }
    Ok(())
}

/// The entry at a path, or the top of the root.
pub(crate) fn entry_at(
    conn: &rusqlite::Connection,
    root: &RootRow,
    path: &SafePath,
    include_deleted: bool,
) -> ApiResult<Entry> {
    if path.is_top() {
        return Ok(top_entry(conn, root)?);
    }
    let found = find_entry(conn, root.id, &path.key())?;
    match found {
        Some(entry) if include_deleted || !entry.is_deleted => Ok(entry),
        _ => Err(ApiError::NotFound(format!("Nothing is at '{}'.", path.as_text()))),
    }
}

/// The top of a root, which has no row of its own.
fn top_entry(conn: &rusqlite::Connection, root: &RootRow) -> rusqlite::Result<Entry> {
    let seq = entries::last_change_seq(conn, root.id)?;
    Ok(EntryRow {
        id: 0,
        root_id: root.id,
        path: "/".into(),
        path_key: "/".into(),
        name: String::new(),
        is_dir: true,
        size: 0,
        modified: root.created.clone(),
        rev: format!("{seq:016x}"),
        content_hash: None,
        is_deleted: false,
        change_seq: seq,
    })
}

/// Metadata of a path; for a folder with `list`, its contents and listing hash. A folder
/// whose listing hash equals `known_hash` answers [`MetadataAnswer::NotModified`]; one with
/// more entries than `file_limit` answers 406.
#[allow(clippy::too_many_arguments, reason = "the parameters of the metadata call")]
pub async fn metadata(
    context: &Context,
    caller: &Caller,
    root_id: i64,
    path: SafePath,
    list: bool,
    include_deleted: bool,
    file_limit: i64,
    known_hash: Option<String>,
) -> ApiResult<MetadataAnswer> {
    let caller = caller.clone();
    context
        .db
        .read(move |conn| {
            let (root, _) = root_for(conn, &caller, root_id, Permission::Read)?;
            let entry = entry_at(conn, &root, &path, include_deleted)?;
            if !entry.is_dir || !list {
                return Ok(MetadataAnswer::Found(Box::new(Listing {
                    entry,
                    contents: None,
                    hash: None,
                })));
            }
            let count = count_children(conn, root_id, &entry.path_key, include_deleted)?;
            if count > file_limit {
                return Err(ApiError::TooManyEntries(format!(
                    "The folder holds {count} entries, more than the file_limit of {file_limit}."
                )));
            }
            let contents = list_children(conn, root_id, &entry.path_key, include_deleted)?;
            let hash = listing_hash(&contents);
            if known_hash.as_deref() == Some(hash.as_str()) {
                return Ok(MetadataAnswer::NotModified);
            }
            Ok(MetadataAnswer::Found(Box::new(Listing {
                entry,
                contents: Some(contents),
                hash: Some(hash),
            })))
        })
        .await
}

fn listing_hash(contents: &[Entry]) -> String {
    let mut hasher = Sha256::new();
    for entry in contents {
        hasher.update(entry.path.as_bytes());
        hasher.update([0]);
        hasher.update(entry.rev.as_bytes());
        hasher.update([u8::from(entry.is_deleted)]);
    }
    hex::encode(&hasher.finalize()[..16])
}

/// Finds the bytes of a file (its live version, or the version `rev`) and logs the download.
pub async fn download(
    context: &Context,
    caller: &Caller,
    root_id: i64,
    path: SafePath,
    rev: Option<String>,
) -> ApiResult<Download> {
    let now = context.now_text();
    let data_dir = context.data_dir.clone();
    let caller = caller.clone();
    context
        .db
        .write(move |tx| {
            let (root, _) = root_for(tx, &caller, root_id, Permission::Read)?;
            let live_path = disk_path(&storage::root_dir(&data_dir, &root), &path)?;
            let entry = entry_at(tx, &root, &path, rev.is_some())?;
            if entry.is_dir {
                return Err(ApiError::invalid(format!(
                    "'{}' is a folder; only files can be downloaded.",
                    entry.path
                )));
            }
            let (disk_path, rev, size) = match rev {
                Some(rev) if entry.is_deleted || rev != entry.rev => {
                    let version = find_revision(tx, &rev)?
                        .filter(|version| version.entry_id == entry.id && version.stored)
                        .ok_or_else(|| {
                            ApiError::NotFound(format!("'{}' has no revision '{rev}'.", entry.path))
                        })?;
                    (disk::revision_file(&data_dir, &rev), rev, version.size)
                }
                _ => (live_path, entry.rev.clone(), entry.size),
            };
            let mut activity = NewActivity::by(&caller, now, "file.download");
            activity.root_id = Some(root_id);
            activity.path = Some(entry.path.clone());
            activity.details = json!({"rev": rev});
            insert_activity(tx, &activity)?;
            Ok(Download { entry, disk_path, rev, size })
        })
        .await
}

/// Creates a folder (and the folders above it); an existing path is a conflict.
pub async fn create_folder(
    context: &Context,
    caller: &Caller,
    root_id: i64,
    path: SafePath,
) -> ApiResult<Entry> {
    if path.is_top() {
        return Err(ApiError::conflict("The top of the root already exists."));
    }
    let now = context.now_text();
    let data_dir = context.data_dir.clone();
    let caller = caller.clone();
    context
        .db
        .write(move |tx| {
            let (root, _) = root_for(tx, &caller, root_id, Permission::Write)?;
            disk_path(&storage::root_dir(&data_dir, &root), &path)?;
            if let Some(existing) = live(find_entry(tx, root_id, &path.key())?) {
                return Err(ApiError::conflict(format!(
                    "Something already exists at '{}'.",
                    existing.path
                )));
            }
            let entry = ensure_folder(tx, &data_dir, &root, &path, &now)?;
            let entry = entry_at(tx, &root, &entry, false)?;
            let mut activity = NewActivity::by(&caller, now, "folder.create");
            activity.root_id = Some(root_id);
            activity.path = Some(entry.path.clone());
            insert_activity(tx, &activity)?;
            Ok(entry)
        })
        .await
}

/// Deletes a file or a folder with everything in it. The bytes move to the revisions folder
/// and the entries stay in the index, marked deleted, so that they can be restored.
pub async fn delete(
    context: &Context,
    caller: &Caller,
    root_id: i64,
    path: SafePath,
) -> ApiResult<Entry> {
    if path.is_top() {
        return Err(ApiError::invalid("The top of a root cannot be deleted; delete the root."));
    }
    let now = context.now_text();
    let data_dir = context.data_dir.clone();
    let caller = caller.clone();
    context
        .db
        .write(move |tx| {
            let (root, _) = root_for(tx, &caller, root_id, Permission::Delete)?;
            let root_dir = storage::root_dir(&data_dir, &root);
            let on_disk = disk_path(&root_dir, &path)?;
            let entry = entry_at(tx, &root, &path, false)?;
            let mut affected = vec![entry.clone()];
            if entry.is_dir {
                affected.extend(
                    list_below(tx, root_id, &entry.path_key)?.into_iter().filter(|e| !e.is_deleted),
                );
            }
            let mut freed = 0;
            for item in &affected {
                if !item.is_dir {
                    let file = disk_path(&root_dir, &SafePath::parse(&item.path)?)?;
                    disk::retire_version(&data_dir, &file, &item.rev)?;
                    set_revision_stored(tx, &item.rev)?;
                    freed += item.size;
                }
                let seq = next_change_seq(tx, root_id)?;
                mark_deleted(tx, item.id, &new_rev(), &now, seq)?;
            }
            if entry.is_dir {
                match std::fs::remove_dir_all(&on_disk) {
                    Ok(()) => {}
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                    Err(error) => return Err(error.into()),
                }
            }
            add_space_used(tx, root_id, -freed)?;
            let mut activity = NewActivity::by(&caller, now, "file.delete");
            activity.root_id = Some(root_id);
            activity.path = Some(entry.path.clone());
            activity.details = json!({"is_dir": entry.is_dir, "entries": affected.len()});
            insert_activity(tx, &activity)?;
            entry_at(tx, &root, &path, true)
        })
        .await
}

/// Moves a file or folder, within a root or to another root. Moving needs `write` on both
/// roots, and `delete` on the source when it leaves its root.
pub async fn move_entry(
    context: &Context,
    caller: &Caller,
    from_root: i64,
    from: SafePath,
    to_root: i64,
    to: SafePath,
) -> ApiResult<Entry> {
    check_move_paths(from_root, &from, to_root, &to)?;
    let now = context.now_text();
    let data_dir = context.data_dir.clone();
    let caller = caller.clone();
    let (entry, replaced_versions) = context
        .db
        .write(move |tx| {
            let needed = if from_root == to_root { Permission::Write } else { Permission::Delete };
            let (source_root, _) = root_for(tx, &caller, from_root, needed)?;
            let (target_root, _) = root_for(tx, &caller, to_root, Permission::Write)?;
            let source_dir = storage::root_dir(&data_dir, &source_root);
            let target_dir = storage::root_dir(&data_dir, &target_root);
            let source_disk = disk_path(&source_dir, &from)?;
            disk_path(&target_dir, &to)?;
            let entry = entry_at(tx, &source_root, &from, false)?;
            let renaming_case = from_root == to_root && from.key() == to.key();
            let parent = to.parent().unwrap_or_else(SafePath::top);
            let target = if renaming_case {
                to.clone()
            } else {
                ensure_folder(tx, &data_dir, &target_root, &parent, &now)?.join(to.name())?
            };
            let landing = find_entry(tx, to_root, &target.key())?;
            if !renaming_case && landing.as_ref().is_some_and(|found| !found.is_deleted) {
                return Err(ApiError::conflict(format!(
                    "Something already exists at '{}'.",
                    target.as_text()
                )));
            }
            let below =
                if entry.is_dir { list_below(tx, from_root, &entry.path_key)? } else { vec![] };
            let bytes: i64 = std::iter::once(&entry)
                .chain(below.iter())
                .filter(|item| !item.is_dir && !item.is_deleted)
                .map(|item| item.size)
                .sum();
            if from_root != to_root {
                check_quotas(tx, &target_root, bytes)?;
            }
            // Deleted entries where the move lands are replaced for good; their kept versions
            // are removed once the transaction has committed.
            let mut replaced_versions = vec![];
            if let Some(old) = landing.filter(|found| found.is_deleted && !renaming_case) {
                let mut ids = vec![old.id];
                ids.extend(list_below(tx, to_root, &old.path_key)?.iter().map(|item| item.id));
                replaced_versions = entries::purge_entries(tx, &ids)?;
                // Those deletions can no longer be reported to older cursors.
                let reached = entries::last_change_seq(tx, to_root)?;
                entries::raise_delta_floor(tx, to_root, reached)?;
            }
            let target_disk = disk_path(&target_dir, &target)?;
            match std::fs::rename(&source_disk, &target_disk) {
                Ok(()) => {}
                // Roots on different disks (a mapped root): the bytes are copied, then the
                // originals removed, all before the index changes.
                // FIXME: the copy runs under the writer lock, so moving a large tree to another
                // disk holds other writes until it is done; right would be copying into a
                // staging folder beside the target first, like `copy_entry`.
                Err(error) if error.kind() == std::io::ErrorKind::CrossesDevices => {
                    disk::move_across_filesystems(&source_disk, &target_disk)?;
                }
                Err(error) => {
                    return Err(ApiError::Internal(anyhow::anyhow!(
                        "moving on disk failed: {error}"
                    )));
                }
            }
            disk::sync_parent(&target_disk)?;
            for item in std::iter::once(&entry).chain(below.iter()) {
                let new_path = rebase(&item.path, &entry, &target)?;
                let parent_key =
                    new_path.parent().map_or_else(|| "/".to_string(), |parent| parent.key());
                let seq = next_change_seq(tx, to_root)?;
                entries::relocate_entry(
                    tx,
                    item.id,
                    to_root,
                    &new_path.as_text(),
                    &new_path.key(),
                    &parent_key,
                    new_path.name(),
                    seq,
                )?;
            }
            if !renaming_case {
                // A deleted entry at the old place tells sync clients the path went away.
                write_entry(
                    tx,
                    from_root,
                    &from_actual(&entry)?,
                    entry.is_dir,
                    0,
                    &now,
                    &new_rev(),
                    None,
                    true,
                )?;
            }
            if from_root != to_root {
                add_space_used(tx, from_root, -bytes)?;
                add_space_used(tx, to_root, bytes)?;
            }
            let mut activity = NewActivity::by(&caller, now, "file.move");
            activity.root_id = Some(to_root);
            activity.path = Some(target.as_text());
            activity.details = json!({
                "from_root": from_root, "from_path": entry.path,
                "to_root": to_root, "to_path": target.as_text(),
            });
            insert_activity(tx, &activity)?;
            Ok((entry_at(tx, &target_root, &target, false)?, replaced_versions))
        })
        .await?;
    remove_kept_versions(context, replaced_versions).await;
    Ok(entry)
}

/// Removes the bytes of kept versions whose rows a committed transaction deleted. A failure
/// leaves an orphaned file, which `cloudsync check --repair` removes; never a row without
/// bytes.
async fn remove_kept_versions(context: &Context, revs: Vec<String>) {
    if revs.is_empty() {
        return;
    }
    let data_dir = context.data_dir.clone();
    let _ = crate::db::Db::blocking(move || {
        disk::remove_kept_versions(&data_dir, revs);
        Ok(())
    })
    .await;
}

/// The path `item_path` (inside `base`) gets when `base` is moved or copied to `target`.
/// Counted in names, not bytes: stored paths below a folder may spell its name in another
/// case, whose bytes can differ in length.
fn rebase(item_path: &str, base: &Entry, target: &SafePath) -> ApiResult<SafePath> {
    let depth = SafePath::parse(&base.path)?.names().len();
    let item = SafePath::parse(item_path)?;
    let mut path = target.clone();
    for name in item.names().get(depth..).unwrap_or(&[]) {
        path = path.join(name)?;
    }
    Ok(path)
}

fn from_actual(entry: &Entry) -> ApiResult<SafePath> {
    SafePath::parse(&entry.path)
}

fn check_move_paths(from_root: i64, from: &SafePath, to_root: i64, to: &SafePath) -> ApiResult<()> {
    if from.is_top() {
        return Err(ApiError::invalid("The top of a root cannot be moved or copied."));
    }
    if to.is_top() {
        return Err(ApiError::invalid("The parameter 'to_path' must name a new path."));
    }
    if from_root == to_root && from.key() != to.key() && to.starts_with(from) {
        return Err(ApiError::invalid("A folder cannot be moved or copied into itself."));
    }
    Ok(())
}

/// Copies a file or folder, within a root or to another root. The bytes are copied before
/// the write transaction, so the lock is held only for the renames and the index rows.
pub async fn copy_entry(
    context: &Context,
    caller: &Caller,
    from_root: i64,
    from: SafePath,
    to_root: i64,
    to: SafePath,
) -> ApiResult<Entry> {
    check_move_paths(from_root, &from, to_root, &to)?;
    if from_root == to_root && from.key() == to.key() {
        return Err(ApiError::conflict("The copy would land on its original."));
    }
    let reader = caller.clone();
    let read_dir = context.data_dir.clone();
    let read_from = from.clone();
    let (entry, items, source_dir) = context
        .db
        .read(move |conn| {
            let (root, _) = root_for(conn, &reader, from_root, Permission::Read)?;
            let source_dir = storage::root_dir(&read_dir, &root);
            disk_path(&source_dir, &read_from)?;
            let entry = entry_at(conn, &root, &read_from, false)?;
            let mut items = vec![entry.clone()];
            if entry.is_dir {
                items.extend(
                    list_below(conn, from_root, &entry.path_key)?
                        .into_iter()
                        .filter(|e| !e.is_deleted),
                );
            }
            Ok((entry, items, source_dir))
        })
        .await?;
    let data_dir = context.data_dir.clone();
    // Copy the bytes of every file into temporary files, off the async threads.
    let copies: Vec<(Entry, Option<Received>)> = crate::db::Db::blocking(move || {
        let mut copies = Vec::new();
        for item in items {
            if item.is_dir {
                copies.push((item, None));
                continue;
            }
            let source = disk_path(&source_dir, &SafePath::parse(&item.path)?)?;
            let temp: TempFile = disk::copy_to_temp(&data_dir, &source)?;
            let received = Received {
                temp,
                size: item.size,
                content_hash: item.content_hash.clone().unwrap_or_default(),
            };
            copies.push((item, Some(received)));
        }
        Ok(copies)
    })
    .await?;
    let now = context.now_text();
    let data_dir = context.data_dir.clone();
    let caller = caller.clone();
    context
        .db
        .write(move |tx| {
            let (target_root, _) = root_for(tx, &caller, to_root, Permission::Write)?;
            let target_dir = storage::root_dir(&data_dir, &target_root);
            disk_path(&target_dir, &to)?;
            if let Some(existing) = live(find_entry(tx, to_root, &to.key())?) {
                return Err(ApiError::conflict(format!(
                    "Something already exists at '{}'.",
                    existing.path
                )));
            }
            let parent = to.parent().unwrap_or_else(SafePath::top);
            let target =
                ensure_folder(tx, &data_dir, &target_root, &parent, &now)?.join(to.name())?;
            let total: i64 = copies.iter().filter_map(|(_, r)| r.as_ref()).map(|r| r.size).sum();
            check_quotas(tx, &target_root, total)?;
            let no_overwrite = WriteMode { overwrite: false, autorename: false, parent_rev: None };
            for (item, received) in &copies {
                let new_path = rebase(&item.path, &entry, &target)?;
                match received {
                    None => {
                        ensure_folder(tx, &data_dir, &target_root, &new_path, &now)?;
                    }
                    Some(received) => {
                        // Quotas were checked for the whole copy; the root row is re-read so
                        // that each file sees the usage the previous ones added.
                        let current_root =
                            find_root(tx, to_root)?.ok_or_else(|| ApiError::not_found("Root"))?;
                        place_file(
                            tx,
                            &data_dir,
                            &current_root,
                            &new_path,
                            received,
                            &no_overwrite,
                            &now,
                        )?;
                    }
                }
            }
            let mut activity = NewActivity::by(&caller, now, "file.copy");
            activity.root_id = Some(to_root);
            activity.path = Some(target.as_text());
            activity.details = json!({
                "from_root": from_root, "from_path": entry.path,
                "to_root": to_root, "to_path": target.as_text(), "bytes": total,
            });
            insert_activity(tx, &activity)?;
            entry_at(tx, &target_root, &target, false)
        })
        .await
}

/// The stored versions of a file, newest first.
pub async fn revisions(
    context: &Context,
    caller: &Caller,
    root_id: i64,
    path: SafePath,
    limit: i64,
) -> ApiResult<(Entry, Vec<RevisionRow>)> {
    let caller = caller.clone();
    context
        .db
        .read(move |conn| {
            let (root, _) = root_for(conn, &caller, root_id, Permission::Read)?;
            let entry = entry_at(conn, &root, &path, true)?;
            if entry.is_dir {
                return Err(ApiError::invalid(format!(
                    "'{}' is a folder; folders have no revisions.",
                    entry.path
                )));
            }
            let versions = list_revisions(conn, entry.id, limit)?;
            Ok((entry, versions))
        })
        .await
}

/// Makes version `rev` of a file the live one again, also for a deleted file. Restoring
/// writes a new version (with a new rev) holding the old bytes.
pub async fn restore(
    context: &Context,
    caller: &Caller,
    root_id: i64,
    path: SafePath,
    rev: String,
) -> ApiResult<Entry> {
    let reader = caller.clone();
    let read_path = path.clone();
    let read_rev = rev.clone();
    let (entry, version) = context
        .db
        .read(move |conn| {
            let (root, _) = root_for(conn, &reader, root_id, Permission::Write)?;
            let entry = entry_at(conn, &root, &read_path, true)?;
            let version = find_revision(conn, &read_rev)?
                .filter(|version| version.entry_id == entry.id)
                .ok_or_else(|| {
                    ApiError::NotFound(format!("'{}' has no revision '{read_rev}'.", entry.path))
                })?;
            Ok((entry, version))
        })
        .await?;
    if !entry.is_deleted && entry.rev == rev {
        return Ok(entry);
    }
    let data_dir = context.data_dir.clone();
    let received = crate::db::Db::blocking(move || {
        let temp = disk::copy_to_temp(&data_dir, &disk::revision_file(&data_dir, &version.rev))?;
        Ok(Received { temp, size: version.size, content_hash: version.content_hash })
    })
    .await?;
    let now = context.now_text();
    let data_dir = context.data_dir.clone();
    let caller = caller.clone();
    let target = SafePath::parse(&entry.path)?;
    context
        .db
        .write(move |tx| {
            let (root, _) = root_for(tx, &caller, root_id, Permission::Write)?;
            let mode = WriteMode { overwrite: true, autorename: false, parent_rev: None };
            let restored = place_file(tx, &data_dir, &root, &target, &received, &mode, &now)?;
            let mut activity = NewActivity::by(&caller, now, "file.restore");
            activity.root_id = Some(root_id);
            activity.path = Some(restored.path.clone());
            activity.details = json!({"rev": rev, "new_rev": restored.rev});
            insert_activity(tx, &activity)?;
            Ok(restored)
        })
        .await
}

/// Entries below a folder whose name contains `query` (without regard to case).
pub async fn search(
    context: &Context,
    caller: &Caller,
    root_id: i64,
    path: SafePath,
    query: String,
    limit: i64,
    include_deleted: bool,
) -> ApiResult<Vec<Entry>> {
    let needle = query.to_lowercase();
    let caller = caller.clone();
    context
        .db
        .read(move |conn| {
            let (root, _) = root_for(conn, &caller, root_id, Permission::Read)?;
            let folder = entry_at(conn, &root, &path, false)?;
            Ok(entries::search_below(
                conn,
                root_id,
                &folder.path_key,
                &needle,
                include_deleted,
                limit,
            )?)
        })
        .await
}

/// One page of the change feed of a root.
#[derive(Debug)]
pub struct DeltaPage {
    /// Changed entries, oldest change first; deleted ones are reported as gone.
    pub entries: Vec<Entry>,
    pub cursor: String,
    pub has_more: bool,
    /// The client must forget what it knows of the root and apply this feed from scratch.
    pub reset: bool,
}

/// Changes of a root since `cursor`. Without a cursor, or with one that does not fit this
/// root's feed, the feed starts over with `reset`.
pub async fn delta(
    context: &Context,
    caller: &Caller,
    root_id: i64,
    cursor: Option<String>,
) -> ApiResult<DeltaPage> {
    let caller = caller.clone();
    context
        .db
        .read(move |conn| {
            root_for(conn, &caller, root_id, Permission::Read)?;
            let last = entries::last_change_seq(conn, root_id)?;
            let floor = entries::delta_floor(conn, root_id)?;
            let position = cursor.as_deref().and_then(|text| parse_cursor(text, root_id));
            let (after, reset) = match position {
                Some(seq) if seq <= last && seq >= floor => (seq, false),
                _ => (0, true),
            };
            let mut changes = entries::list_changes(conn, root_id, after, DELTA_PAGE + 1)?;
            let has_more = changes.len() as i64 > DELTA_PAGE;
            changes.truncate(usize::try_from(DELTA_PAGE).unwrap_or(1000));
            let reached = changes.last().map_or(after, |entry| entry.change_seq);
            Ok(DeltaPage {
                entries: changes,
                cursor: format!("{root_id}.{reached}"),
                has_more,
                reset,
            })
        })
        .await
}

fn parse_cursor(text: &str, root_id: i64) -> Option<i64> {
    let (root, seq) = text.split_once('.')?;
    if root.parse::<i64>().ok()? != root_id {
        return None;
    }
    seq.parse().ok().filter(|seq: &i64| *seq >= 0)
}

/// Work at start, before serving: removes temporary files an interrupted upload left,
/// chunked uploads that expired, and upload files no upload row knows.
pub async fn start_up(context: &Context) -> ApiResult<()> {
    let data_dir = context.data_dir.clone();
    let removed = crate::db::Db::blocking(move || Ok(disk::clear_tmp(&data_dir)?)).await?;
    if removed > 0 {
        tracing::info!(removed, "removed leftover temporary files");
    }
    crate::service::uploads::expire_uploads(context).await?;
    let known = context.db.read(|conn| Ok(entries::list_upload_ids(conn)?)).await?;
    let uploads = disk::uploads_dir(&context.data_dir);
    crate::db::Db::blocking(move || {
        for entry in std::fs::read_dir(&uploads)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !known.contains(&name) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(())
    })
    .await?;
    let roots = context.db.read(|conn| Ok(crate::db::roots::list_all_roots(conn)?)).await?;
    for root in roots {
        reconcile::reconcile_at_start(&context.db, &context.data_dir, root, context.now_text())
            .await?;
    }
    reconcile::record_kept_versions(&context.db, &context.data_dir).await?;
    Ok(())
}
