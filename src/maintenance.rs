//! Operator commands that run beside the server: consistent database backups.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use rusqlite::backup::Backup;
use rusqlite::{Connection, OpenFlags};

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
