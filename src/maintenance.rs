//! Operator commands that run beside the server: consistent database backups, and
//! `check`, which compares the index with the disk and repairs what is safe to repair.
//!
//! `check` writes only through `Db::write` (`BEGIN IMMEDIATE` with a busy timeout), the same
//! locking the server uses, and it confirms every finding inside such a transaction, so it
//! may run while the server serves.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use rusqlite::backup::Backup;
use rusqlite::{Connection, OpenFlags};

use crate::clock::Clock;
use crate::db::Db;
use crate::db::entries::{list_revision_states, list_upload_ids, live_file_bytes};
use crate::db::roots::{RootRow, find_root, list_all_roots, set_space_used};
use crate::error::ApiResult;
use crate::service::reconcile::{self, Difference, Seen, scan_root};
use crate::storage;
use crate::storage::files as disk;

/// Pages copied per step of an online backup; between steps the server's writers may run.
const PAGES_PER_STEP: std::ffi::c_int = 1024;

/// Copies the database of `data_dir` to `target` with SQLite's online backup, so the copy is
/// consistent even while the server writes. The copy is written beside the target and renamed
/// into place when whole, so an interrupted backup leaves no partial file under that name.
pub fn backup_database(data_dir: &Path, target: &Path) -> anyhow::Result<()> {
    let source_path = data_dir.join("cloudsync.db");
    if !source_path.is_file() {
        bail!("no database at {}", source_path.display());
    }
    if target.exists() {
        bail!("{} exists already; choose a new file", target.display());
    }
    let source = Connection::open_with_flags(&source_path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("opening {}", source_path.display()))?;
    source.busy_timeout(Duration::from_secs(30))?;
    let partial = target.with_extension("partial");
    let _ = std::fs::remove_file(&partial);
    {
        let mut copy = Connection::open(&partial)
            .with_context(|| format!("creating {}", partial.display()))?;
        Backup::new(&source, &mut copy)?
            .run_to_completion(PAGES_PER_STEP, Duration::from_millis(5), None)
            .context("copying the database")?;
        let check: String = copy.query_row("PRAGMA integrity_check", [], |row| row.get(0))?;
        if check != "ok" {
            bail!("the copy failed its integrity check: {check}");
        }
    }
    std::fs::File::open(&partial)?.sync_all()?;
    std::fs::rename(&partial, target)
        .with_context(|| format!("moving the copy to {}", target.display()))?;
    Ok(())
}

/// How long a file in `<data-dir>/tmp/` must have been left alone (by its status-change
/// time, which writes and hard links move) before `check` counts it as a leftover: a running
/// server streams uploads there without any lock.
pub const TEMP_GRACE: Duration = Duration::from_secs(3600);

/// One problem `check` found.
#[derive(Clone, Debug)]
pub struct Finding {
    /// The root it concerns; `None` for the data folder's own folders.
    pub root_id: Option<i64>,
    /// What is wrong, e.g. `unindexed file`.
    pub kind: &'static str,
    /// The path in the root, or the file in the data folder.
    pub subject: String,
    /// Figures that explain it, e.g. `(index 3 bytes, disk 5 bytes)`; may be empty.
    pub detail: String,
    /// Whether `--repair` fixed it.
    pub repaired: bool,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.root_id {
            Some(id) => write!(f, "root {id}: ")?,
            None => write!(f, "data folder: ")?,
        }
        write!(f, "{} {}", self.kind, self.subject)?;
        if !self.detail.is_empty() {
            write!(f, " {}", self.detail)?;
        }
        if self.repaired {
            write!(f, " [repaired]")?;
        }
        Ok(())
    }
}

/// What `check` looked at and found.
#[derive(Debug, Default)]
pub struct CheckReport {
    pub roots: usize,
    pub files: usize,
    pub findings: Vec<Finding>,
}

impl CheckReport {
    /// Whether the data folder is consistent now: nothing was found, or all was repaired.
    pub fn is_consistent(&self) -> bool {
        self.findings.iter().all(|finding| finding.repaired)
    }

    /// The closing line of the report.
    pub fn summary(&self) -> String {
        let repaired = self.findings.iter().filter(|finding| finding.repaired).count();
        let problems = self.findings.len();
        let looked = format!("checked {} roots and {} files", self.roots, self.files);
        match (problems, repaired) {
            (0, _) => format!("{looked}: the index and the disk agree"),
            (_, 0) => format!("{looked}: {problems} problems found"),
            _ => format!(
                "{looked}: {problems} problems found, {repaired} repaired, {} left",
                problems - repaired
            ),
        }
    }
}

/// Compares the index with the disk for every root of `data_dir`: files on disk not in the
/// index, entries whose file is missing, wrong sizes and SHA-256 hashes (every file is read),
/// `space_used` against the live files, kept versions missing or orphaned, and leftover
/// temporary and upload files. With `repair`, fixes what is safe: indexes unindexed files,
/// marks missing ones deleted, takes sizes and hashes from the disk, recounts usage and
/// removes leftovers. A file in a root's folder is never removed.
pub async fn check(data_dir: &Path, repair: bool, clock: &Clock) -> anyhow::Result<CheckReport> {
    let db_path = data_dir.join("cloudsync.db");
    if !db_path.is_file() {
        bail!("no database at {}", db_path.display());
    }
    let db = Db::open(&db_path)?;
    let mut report = CheckReport::default();
    let roots = db.read(|conn| Ok(list_all_roots(conn)?)).await.map_err(anyhow_of)?;
    for root in roots {
        report.roots += 1;
        let now = crate::clock::format_time(clock.now());
        check_root(&db, data_dir, root, repair, now, &mut report).await.map_err(anyhow_of)?;
    }
    let data_dir_owned = data_dir.to_path_buf();
    let findings = db
        .write(move |tx| check_data_folders(tx, &data_dir_owned, repair))
        .await
        .map_err(anyhow_of)?;
    report.findings.extend(findings);
    Ok(report)
}

fn anyhow_of(error: crate::error::ApiError) -> anyhow::Error {
    anyhow::anyhow!("{error}")
}

async fn check_root(
    db: &Db,
    data_dir: &Path,
    root: RootRow,
    repair: bool,
    now: String,
    report: &mut CheckReport,
) -> ApiResult<()> {
    let root_id = root.id;
    let root_dir = storage::root_dir(data_dir, &root);
    if !root_dir.is_dir() {
        // Without the folder every entry would look missing; a person must look first.
        report.findings.push(Finding {
            root_id: Some(root_id),
            kind: "root folder missing",
            subject: root_dir.display().to_string(),
            detail: String::new(),
            repaired: false,
        });
        return Ok(());
    }
    let indexed = db.read(move |conn| reconcile::indexed_entries(conn, root_id)).await?;
    let scan_dir = root_dir.clone();
    let scan = Db::blocking(move || scan_root(&scan_dir, indexed, true)).await?;
    report.files += scan.files;
    let findings = db
        .write(move |tx| {
            let mut findings = Vec::new();
            let mut confirmed = Vec::new();
            for difference in &scan.differences {
                if reconcile::confirm(tx, root_id, &root_dir, difference)? {
                    confirmed.push(difference);
                    findings.push(describe(root_id, difference, repair));
                }
            }
            if repair && !confirmed.is_empty() {
                reconcile::apply(tx, root_id, &confirmed, &now, "check")?;
            }
            for leftover in &scan.leftovers {
                if Seen::of(leftover).is_some() {
                    let removed = repair && std::fs::remove_file(leftover).is_ok();
                    findings.push(Finding {
                        root_id: Some(root_id),
                        kind: "leftover part file",
                        subject: leftover.display().to_string(),
                        detail: String::new(),
                        repaired: removed,
                    });
                }
            }
            let recorded = find_root(tx, root_id)?.map_or(0, |root| root.space_used);
            let counted = live_file_bytes(tx, root_id)?;
            if recorded != counted {
                if repair {
                    set_space_used(tx, root_id, counted)?;
                }
                findings.push(Finding {
                    root_id: Some(root_id),
                    kind: "usage differs",
                    subject: "space_used".into(),
                    detail: format!("(recorded {recorded} bytes, live files {counted} bytes)"),
                    repaired: repair,
                });
            }
            Ok(findings)
        })
        .await?;
    report.findings.extend(findings);
    Ok(())
}

fn describe(root_id: i64, difference: &Difference, repaired: bool) -> Finding {
    let (kind, detail) = match difference {
        Difference::Missing(entry) => (
            "missing from disk",
            if entry.is_dir { "(folder)".to_string() } else { format!("({} bytes)", entry.size) },
        ),
        Difference::UnindexedFolder(_) => ("unindexed folder", String::new()),
        Difference::UnindexedFile { size, .. } => ("unindexed file", format!("({size} bytes)")),
        Difference::Changed { entry, size, .. } if *size != entry.size => {
            ("wrong size", format!("(index {} bytes, disk {size} bytes)", entry.size))
        }
        Difference::Changed { entry, hash, .. } => (
            "wrong hash",
            format!(
                "(index {}, disk {})",
                short(entry.content_hash.as_deref().unwrap_or("none")),
                short(hash)
            ),
        ),
    };
    Finding { root_id: Some(root_id), kind, subject: difference.path(), detail, repaired }
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

/// Checks the revisions, uploads and temporary folders against the index. Runs in a write
/// transaction, so no server write is half done while it looks.
fn check_data_folders(tx: &Connection, data_dir: &Path, repair: bool) -> ApiResult<Vec<Finding>> {
    let mut findings = Vec::new();
    let mut finding = |kind: &'static str, subject: &Path, detail: String, repaired: bool| {
        findings.push(Finding {
            root_id: None,
            kind,
            subject: subject.display().to_string(),
            detail,
            repaired,
        });
    };

    let states = list_revision_states(tx)?;
    let known: std::collections::HashSet<&str> =
        states.iter().map(|state| state.rev.as_str()).collect();
    for state in states.iter().filter(|state| state.stored) {
        let file = disk::revision_file(data_dir, &state.rev);
        if !file.is_file() {
            // The bytes are gone; nothing can bring them back.
            finding("missing kept version", &file, format!("({} bytes)", state.size), false);
        }
    }
    for rev in reconcile::unrecorded_kept_versions(tx, data_dir)? {
        if repair {
            crate::db::entries::set_revision_stored(tx, &rev)?;
        }
        finding(
            "unrecorded kept version",
            &disk::revision_file(data_dir, &rev),
            String::new(),
            repair,
        );
    }
    for file in list_files(&disk::revisions_dir(data_dir))? {
        let name = file.file_name().map(|name| name.to_string_lossy().into_owned());
        if !name.is_some_and(|name| known.contains(name.as_str())) {
            let removed = repair && std::fs::remove_file(&file).is_ok();
            finding("orphaned kept version", &file, String::new(), removed);
        }
    }

    let uploads: std::collections::HashSet<String> = list_upload_ids(tx)?.into_iter().collect();
    for file in list_files(&disk::uploads_dir(data_dir))? {
        let name = file.file_name().map(|name| name.to_string_lossy().into_owned());
        if !name.is_some_and(|name| uploads.contains(&name)) {
            let removed = repair && std::fs::remove_file(&file).is_ok();
            finding("leftover upload file", &file, String::new(), removed);
        }
    }

    let now = std::time::SystemTime::now();
    for file in list_files(&disk::tmp_dir(data_dir))? {
        if status_age(&file, now).is_some_and(|age| age >= TEMP_GRACE) {
            let removed = repair && std::fs::remove_file(&file).is_ok();
            finding("leftover temporary file", &file, String::new(), removed);
        }
    }
    Ok(findings)
}

/// The regular files directly in a folder (none when it does not exist).
fn list_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

/// How long ago a file's status last changed (a write, a rename or a new hard link).
fn status_age(file: &Path, now: std::time::SystemTime) -> Option<Duration> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(file).ok()?;
    let changed = std::time::UNIX_EPOCH
        + Duration::new(u64::try_from(meta.ctime()).ok()?, u32::try_from(meta.ctime_nsec()).ok()?);
    now.duration_since(changed).ok()
}
