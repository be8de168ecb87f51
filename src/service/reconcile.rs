//! Comparing a root's index with its folder on disk, for the start-up reconcile and for
//! `cloudsync check`.
//!
//! A comparison has two halves. [`scan_root`] walks the folder and hashes files without any
//! lock, so it can take long; what it finds is only a candidate. [`confirm`] then looks at
//! each candidate again inside a write transaction (which no server write runs beside) and
//! keeps it only when the index row and the file are still as the walk saw them, so a change
//! the server made meanwhile is neither reported nor undone. [`apply`] writes the repairs.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde_json::json;

use crate::db::Db;
use crate::db::activity::{NewActivity, insert_activity};
use crate::db::entries::{
    EntryRow, RevisionRow, find_entry, insert_revision, list_below, mark_deleted, next_change_seq,
};
use crate::db::roots::{RootRow, add_space_used};
use crate::error::ApiResult;
use crate::service::files::{new_rev, write_entry};
use crate::storage;
use crate::storage::files as disk;
use crate::storage::paths::SafePath;

/// Ending of the files `place` writes beside a target when it must copy across filesystems.
pub const PART_SUFFIX: &str = ".cloudsync-part";

/// How a file looked on disk when it was hashed: its length and modification time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seen {
    pub len: u64,
    pub modified: SystemTime,
}

impl Seen {
    /// How the file at `path` looks now; `None` when it is not a regular file.
    pub fn of(path: &Path) -> Option<Seen> {
        let meta = std::fs::symlink_metadata(path).ok()?;
        if !meta.is_file() {
            return None;
        }
        Some(Seen { len: meta.len(), modified: meta.modified().ok()? })
    }
}

/// One difference between a root's folder and its index.
#[derive(Debug)]
pub enum Difference {
    /// The index has a live entry whose file or folder is not on disk.
    Missing(EntryRow),
    /// A folder on disk has no live entry.
    UnindexedFolder(SafePath),
    /// A file on disk has no live file entry.
    UnindexedFile { path: SafePath, size: i64, hash: String, seen: Seen },
    /// A file's size or SHA-256 on disk differs from its entry.
    Changed { entry: EntryRow, size: i64, hash: String, seen: Seen },
}

impl Difference {
    /// The path it concerns, as text.
    pub fn path(&self) -> String {
        match self {
            Difference::Missing(entry) | Difference::Changed { entry, .. } => entry.path.clone(),
            Difference::UnindexedFolder(path) | Difference::UnindexedFile { path, .. } => {
                path.as_text()
            }
        }
    }
}

/// What a walk of a root's folder found.
#[derive(Debug, Default)]
pub struct Scan {
    /// Candidate differences; see [`confirm`].
    pub differences: Vec<Difference>,
    /// Leftovers of interrupted placements (`*.cloudsync-part`) inside the folder.
    pub leftovers: Vec<PathBuf>,
    /// How many files the walk looked at.
    pub files: usize,
}

/// What the disk holds at one path.
#[derive(Debug)]
struct OnDisk {
    path: SafePath,
    is_dir: bool,
    size: i64,
    modified: SystemTime,
}

/// Compares a root's folder with its live index entries (blocking; takes no lock). With
/// `verify_all`, every file is hashed; without it, only files whose size or time changed
/// since they were indexed, as at start-up.
pub fn scan_root(root_dir: &Path, indexed: Vec<EntryRow>, verify_all: bool) -> ApiResult<Scan> {
    let mut found = Vec::new();
    let mut scan = Scan::default();
    walk(root_dir, &SafePath::top(), &mut found, &mut scan.leftovers)?;
    let mut by_key: HashMap<String, EntryRow> = indexed
        .into_iter()
        .filter(|entry| !entry.is_deleted)
        .map(|entry| (entry.path_key.clone(), entry))
        .collect();
    let mut seen_keys = HashSet::new();
    for item in found {
        let key = item.path.key();
        if !seen_keys.insert(key.clone()) {
            tracing::warn!(path = %item.path.as_text(), "a name differing only by case is skipped");
            continue;
        }
        let known = by_key.remove(&key);
        if item.is_dir {
            if !known.as_ref().is_some_and(|entry| entry.is_dir) {
                scan.differences.push(Difference::UnindexedFolder(item.path));
            }
            continue;
        }
        scan.files += 1;
        let on_disk = root_dir.join(item.path.relative());
        match known.filter(|entry| !entry.is_dir) {
            Some(entry) => {
                let recorded = crate::clock::parse_time(&entry.modified);
                let modified = chrono::DateTime::<chrono::Utc>::from(item.modified);
                let newer =
                    recorded.is_none_or(|time| modified > time + chrono::Duration::seconds(1));
                if verify_all || entry.size != item.size || newer {
                    let seen = Seen::of(&on_disk);
                    let Some((size, hash)) = hash_unless_gone(&on_disk)? else { continue };
                    if Some(&hash) != entry.content_hash.as_ref() || size != entry.size {
                        let seen = seen.unwrap_or(Seen { len: 0, modified: item.modified });
                        scan.differences.push(Difference::Changed { entry, size, hash, seen });
                    }
                }
            }
            None => {
                let seen = Seen::of(&on_disk);
                let Some((size, hash)) = hash_unless_gone(&on_disk)? else { continue };
                let seen = seen.unwrap_or(Seen { len: 0, modified: item.modified });
                scan.differences.push(Difference::UnindexedFile {
                    path: item.path,
                    size,
                    hash,
                    seen,
                });
            }
        }
    }
    // What is left in the index is not on disk any more.
    scan.differences.extend(by_key.into_values().map(Difference::Missing));
    Ok(scan)
}

/// The size and SHA-256 of a file, or `None` when it went away since the walk saw it (a
/// running server deleted or moved it; [`confirm`] would drop the finding anyway).
fn hash_unless_gone(path: &Path) -> ApiResult<Option<(i64, String)>> {
    match disk::hash_file(path) {
        Ok(found) => Ok(Some(found)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error.into()),
    }
}

/// Lists a folder's contents depth first, folders before what they hold. Symbolic links and
/// names the server would refuse are skipped; leftovers of interrupted placements are
/// collected apart.
fn walk(
    dir: &Path,
    path: &SafePath,
    found: &mut Vec<OnDisk>,
    leftovers: &mut Vec<PathBuf>,
) -> ApiResult<()> {
    // A folder or file that goes away during the walk was removed by a running server.
    let gone = |error: &std::io::Error| error.kind() == std::io::ErrorKind::NotFound;
    let mut entries: Vec<_> = match std::fs::read_dir(dir) {
        Ok(listing) => listing.filter_map(Result::ok).collect(),
        Err(error) if gone(&error) => return Ok(()),
        Err(error) => return Err(error.into()),
    };
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let meta = match entry.metadata() {
            Ok(meta) => meta,
            Err(error) if gone(&error) => continue,
            Err(error) => return Err(error.into()),
        };
        if meta.file_type().is_symlink() {
            continue;
        }
        if name.ends_with(PART_SUFFIX) && meta.is_file() {
            leftovers.push(entry.path());
            continue;
        }
        let Ok(child) = path.join(&name) else { continue };
        if child.name() != name {
            tracing::warn!(name, "a name not in NFC is left out of the index");
            continue;
        }
        found.push(OnDisk {
            path: child.clone(),
            is_dir: meta.is_dir(),
            size: if meta.is_dir() { 0 } else { i64::try_from(meta.len()).unwrap_or(i64::MAX) },
            modified: meta.modified()?,
        });
        if meta.is_dir() {
            walk(&entry.path(), &child, found, leftovers)?;
        }
    }
    Ok(())
}

/// Whether a candidate difference still holds: the index row is the one the walk compared
/// with and the disk is as the walk saw it. Run inside the write transaction.
pub fn confirm(
    conn: &rusqlite::Connection,
    root_id: i64,
    root_dir: &Path,
    difference: &Difference,
) -> ApiResult<bool> {
    let live = |key: &str| -> ApiResult<Option<EntryRow>> {
        Ok(find_entry(conn, root_id, key)?.filter(|entry| !entry.is_deleted))
    };
    Ok(match difference {
        Difference::Missing(entry) => {
            let path = SafePath::parse(&entry.path)?;
            let still_indexed = live(&entry.path_key)?.is_some_and(|now| now.rev == entry.rev);
            still_indexed && std::fs::symlink_metadata(root_dir.join(path.relative())).is_err()
        }
        Difference::UnindexedFolder(path) => {
            live(&path.key())?.is_none_or(|now| !now.is_dir)
                && root_dir.join(path.relative()).is_dir()
        }
        Difference::UnindexedFile { path, seen, .. } => {
            live(&path.key())?.is_none_or(|now| now.is_dir)
                && Seen::of(&root_dir.join(path.relative())) == Some(*seen)
        }
        Difference::Changed { entry, seen, .. } => {
            let path = SafePath::parse(&entry.path)?;
            live(&entry.path_key)?.is_some_and(|now| now.rev == entry.rev)
                && Seen::of(&root_dir.join(path.relative())) == Some(*seen)
        }
    })
}

/// Counts of what [`apply`] changed.
#[derive(Debug, Default, Clone, Copy)]
pub struct Applied {
    pub added: usize,
    pub updated: usize,
    pub removed: usize,
}

/// Brings the index in line with the disk for confirmed differences: missing entries are
/// marked deleted, unindexed files and folders are added, changed files get a new version
/// with the size and hash found on disk; `space_used` follows. Writes one `root.reconcile`
/// activity entry naming `trigger` (`start` or `check`). Run inside the write transaction.
pub fn apply(
    tx: &rusqlite::Connection,
    root_id: i64,
    differences: &[&Difference],
    now: &str,
    trigger: &str,
) -> ApiResult<Applied> {
    let mut applied = Applied::default();
    for difference in differences {
        match difference {
            Difference::Missing(entry) => {
                let seq = next_change_seq(tx, root_id)?;
                mark_deleted(tx, entry.id, &new_rev(), now, seq)?;
                if !entry.is_dir {
                    add_space_used(tx, root_id, -entry.size)?;
                }
                applied.removed += 1;
            }
            Difference::UnindexedFolder(path) => {
                // A folder where the index had a file: that file's bytes no longer count.
                if let Some(file) = find_entry(tx, root_id, &path.key())?
                    .filter(|entry| !entry.is_deleted && !entry.is_dir)
                {
                    add_space_used(tx, root_id, -file.size)?;
                }
                write_entry(tx, root_id, path, true, 0, now, &new_rev(), None, false)?;
                applied.added += 1;
            }
            Difference::UnindexedFile { path, size, hash, .. } => {
                index_file(tx, root_id, path, *size, hash, now)?;
                add_space_used(tx, root_id, *size)?;
                applied.added += 1;
            }
            Difference::Changed { entry, size, hash, .. } => {
                let path = SafePath::parse(&entry.path)?;
                index_file(tx, root_id, &path, *size, hash, now)?;
                add_space_used(tx, root_id, size - entry.size)?;
                applied.updated += 1;
            }
        }
    }
    let Applied { added, updated, removed } = applied;
    let mut activity = NewActivity {
        created: now.to_string(),
        action: "root.reconcile".into(),
        root_id: Some(root_id),
        details: json!({"added": added, "updated": updated, "removed": removed,
                        "trigger": trigger}),
        ..NewActivity::default()
    };
    activity.path = Some("/".into());
    insert_activity(tx, &activity)?;
    tracing::info!(root_id, added, updated, removed, trigger, "reconciled a root with its folder");
    Ok(applied)
}

/// Records the file at `path` as found on disk: a new live version with a new rev.
fn index_file(
    tx: &rusqlite::Connection,
    root_id: i64,
    path: &SafePath,
    size: i64,
    hash: &str,
    now: &str,
) -> ApiResult<()> {
    let rev = new_rev();
    let entry = write_entry(tx, root_id, path, false, size, now, &rev, Some(hash), false)?;
    insert_revision(
        tx,
        &RevisionRow {
            rev,
            entry_id: entry.id,
            size,
            content_hash: hash.to_string(),
            modified: now.to_string(),
            stored: false,
        },
    )?;
    Ok(())
}

/// The live and deleted entries of a root (read inside any connection).
pub fn indexed_entries(conn: &rusqlite::Connection, root_id: i64) -> ApiResult<Vec<EntryRow>> {
    Ok(list_below(conn, root_id, "/")?.into_iter().filter(|entry| !entry.is_deleted).collect())
}

/// Brings one root's index in line with its folder at start, before serving. This is the one
/// walk of the disk while serving, and it covers changes made behind the server's back and a
/// crash between a rename and its commit. Leftovers of interrupted placements are removed.
pub async fn reconcile_at_start(
    db: &Db,
    data_dir: &Path,
    root: RootRow,
    now: String,
) -> ApiResult<()> {
    let root_dir = storage::root_dir(data_dir, &root);
    if !root_dir.is_dir() {
        if root.path.is_none() {
            std::fs::create_dir_all(&root_dir)?;
        } else {
            tracing::warn!(root_id = root.id, "a mapped root's folder is missing");
            return Ok(());
        }
    }
    let root_id = root.id;
    let indexed = db.read(move |conn| indexed_entries(conn, root_id)).await?;
    let scan_dir = root_dir.clone();
    let scan = Db::blocking(move || scan_root(&scan_dir, indexed, false)).await?;
    for leftover in &scan.leftovers {
        let _ = std::fs::remove_file(leftover);
    }
    if scan.differences.is_empty() {
        return Ok(());
    }
    db.write(move |tx| {
        let mut confirmed = Vec::new();
        for difference in &scan.differences {
            if confirm(tx, root_id, &root_dir, difference)? {
                confirmed.push(difference);
            }
        }
        if !confirmed.is_empty() {
            apply(tx, root_id, &confirmed, &now, "start")?;
        }
        Ok(())
    })
    .await
}

/// Versions whose bytes sit in the revisions folder although their row says they do not:
/// kept by a write whose commit a crash undid, after which the file moved on. Their bytes
/// are whole (a version is kept by a hard link or a synced copy before the change).
pub fn unrecorded_kept_versions(
    conn: &rusqlite::Connection,
    data_dir: &Path,
) -> ApiResult<Vec<String>> {
    Ok(crate::db::entries::list_revision_states(conn)?
        .into_iter()
        .filter(|state| !state.stored && !state.is_live)
        .filter(|state| disk::revision_file(data_dir, &state.rev).is_file())
        .map(|state| state.rev)
        .collect())
}

/// Records the versions of [`unrecorded_kept_versions`] as kept, at start, so that they can
/// be listed, downloaded and restored.
pub async fn record_kept_versions(db: &Db, data_dir: &Path) -> ApiResult<usize> {
    let data_dir = data_dir.to_path_buf();
    db.write(move |tx| {
        let revs = unrecorded_kept_versions(tx, &data_dir)?;
        for rev in &revs {
            crate::db::entries::set_revision_stored(tx, rev)?;
        }
        if !revs.is_empty() {
            tracing::info!(versions = revs.len(), "recorded kept versions a crash left behind");
        }
        Ok(revs.len())
    })
    .await
}
