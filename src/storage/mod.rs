//! Files on disk: where each root's folder lives.
//!
//! A root created by the server lives in `<data-dir>/roots/<id>`; a root a system admin
//! mapped lives in the folder they named. Everything that touches the disk for a root goes
//! through here, so that path safety is decided in one place.

use std::path::{Path, PathBuf};

use crate::db::roots::RootRow;

/// The folder holding every root created by the server.
pub fn roots_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("roots")
}

/// The folder on disk of a root.
pub fn root_dir(data_dir: &Path, root: &RootRow) -> PathBuf {
    match &root.path {
        Some(mapped) => PathBuf::from(mapped),
        None => roots_dir(data_dir).join(root.id.to_string()),
    }
}

/// Creates the folder of a newly made root in the default place.
pub fn create_root_dir(data_dir: &Path, root_id: i64) -> std::io::Result<PathBuf> {
    let dir = roots_dir(data_dir).join(root_id.to_string());
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Removes the folder of a deleted root, if the server made it. A mapped folder belongs to
/// the system admin who named it and stays; a folder that is already gone is fine.
pub fn remove_root_dir(data_dir: &Path, root: &RootRow) -> std::io::Result<()> {
    if root.path.is_some() {
        return Ok(());
    }
    match std::fs::remove_dir_all(root_dir(data_dir, root)) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}
