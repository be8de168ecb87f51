//! Files on disk: where each root's folder lives.
//!
//! A root created by the server lives in `<data-dir>/roots/<id>`; a root a system admin
//! mapped lives in the folder they named. Everything that touches the disk for a root goes
//! through here, so that path safety is decided in one place.

pub mod files;
pub mod paths;

use std::path::{Path, PathBuf};

use crate::db::roots::RootRow;
use crate::error::{ApiError, ApiResult};
use crate::storage::paths::SafePath;

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

/// Where a path of a root lives on disk, checked at the moment of use: every part of it that
/// exists and is a symbolic link must resolve inside the root's folder, or the path is
/// refused with 400. Parts that do not exist yet are fine (they are about to be made).
pub fn disk_path(root_dir: &Path, path: &SafePath) -> ApiResult<PathBuf> {
    let top = root_dir.canonicalize().map_err(|error| {
        ApiError::Internal(anyhow::anyhow!("root folder {} unusable: {error}", root_dir.display()))
    })?;
    let mut current = root_dir.to_path_buf();
    for name in path.names() {
        current.push(name);
        match std::fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let inside = current.canonicalize().is_ok_and(|target| target.starts_with(&top));
                if !inside {
                    return Err(ApiError::invalid(
                        "The path is refused: it goes through a symbolic link that leads out of \
                         the root.",
                    ));
                }
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    Ok(root_dir.join(path.relative()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbolic_links_out_of_the_root_are_refused() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("inner")).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("out")).unwrap();
        std::os::unix::fs::symlink(root.path().join("inner"), root.path().join("alias")).unwrap();
        let check = |raw: &str| disk_path(root.path(), &SafePath::parse(raw).unwrap());

        assert!(check("/out").is_err());
        assert!(check("/out/new.txt").is_err());
        assert!(check("/alias/new.txt").is_ok(), "a link inside the root is fine");
        assert_eq!(check("/inner/x").unwrap(), root.path().join("inner/x"));
        assert!(check("/missing/deeper").is_ok());
    }
}
