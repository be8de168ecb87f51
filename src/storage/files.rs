//! Bytes on disk: receiving uploads into temporary files, putting them in place, keeping
//! older versions, and reading files back in pieces.
//!
//! An upload streams into `<data-dir>/tmp/` while its SHA-256 is computed, is synced, and is
//! renamed into the root's folder only when the index is about to record it. A temporary file
//! that is not placed is removed when its [`TempFile`] is dropped, also when the request is
//! cancelled because the client went away.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use actix_web::web::Bytes;
use futures_util::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use crate::error::{ApiError, ApiResult};

/// Size of the pieces a download is read in.
const READ_CHUNK_BYTES: usize = 256 * 1024;

/// Where uploads are written before they are placed.
pub fn tmp_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("tmp")
}

/// Where older and deleted versions of files are kept, one file per rev.
pub fn revisions_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("revisions")
}

/// Where chunked uploads collect their bytes.
pub fn uploads_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("uploads")
}

/// The file holding a kept version.
pub fn revision_file(data_dir: &Path, rev: &str) -> PathBuf {
    revisions_dir(data_dir).join(rev)
}

/// Makes the folders the server writes into.
pub fn create_work_dirs(data_dir: &Path) -> std::io::Result<()> {
    for dir in [tmp_dir(data_dir), revisions_dir(data_dir), uploads_dir(data_dir)] {
        std::fs::create_dir_all(dir)?;
    }
    Ok(())
}

/// A file in the temporary folder, removed when dropped unless it was placed.
#[derive(Debug)]
pub struct TempFile {
    path: PathBuf,
}

impl TempFile {
    /// A new, not yet created, temporary file name.
    pub fn new(data_dir: &Path) -> TempFile {
        let name = format!("{:032x}.part", rand::random::<u128>());
        TempFile { path: tmp_dir(data_dir).join(name) }
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        // Already gone when it was placed; any other failure leaves a leftover that the next
        // start removes.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A received upload: synced to disk, with its size and SHA-256.
#[derive(Debug)]
pub struct Received {
    pub temp: TempFile,
    pub size: i64,
    pub content_hash: String,
}

/// Streams a body into a temporary file, hashing as it goes, and syncs it. Answers 413 as
/// soon as the body passes `limit` bytes, and 400 when the body breaks off.
pub async fn receive<S, E>(data_dir: &Path, mut body: S, limit: Option<u64>) -> ApiResult<Received>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let temp = TempFile::new(data_dir);
    let mut file = tokio::fs::File::create(temp.path()).await?;
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|error| {
            ApiError::invalid(format!("The upload broke off before its end: {error}"))
        })?;
        size += chunk.len() as u64;
        within_limit(size, limit)?;
        hasher.update(&chunk);
        file.write_all(&chunk).await?;
    }
    file.sync_all().await?;
    drop(file);
    Ok(Received {
        temp,
        size: i64::try_from(size).unwrap_or(i64::MAX),
        content_hash: hex::encode(hasher.finalize()),
    })
}

/// 413 when `size` bytes pass the configured upload limit.
pub fn within_limit(size: u64, limit: Option<u64>) -> ApiResult<()> {
    match limit {
        Some(limit) if size > limit => Err(ApiError::TooLarge(format!(
            "The upload is larger than the server's limit of {limit} bytes."
        ))),
        _ => Ok(()),
    }
}

/// Computes the SHA-256 of a file (blocking).
pub fn hash_file(path: &Path) -> std::io::Result<(i64, String)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let size = std::io::copy(&mut file, &mut hasher)?;
    Ok((i64::try_from(size).unwrap_or(i64::MAX), hex::encode(hasher.finalize())))
}

/// Copies a file into a new temporary file and syncs it (blocking).
pub fn copy_to_temp(data_dir: &Path, source: &Path) -> std::io::Result<TempFile> {
    let temp = TempFile::new(data_dir);
    std::fs::copy(source, temp.path())?;
    std::fs::File::open(temp.path())?.sync_all()?;
    Ok(temp)
}

/// Puts a synced temporary file at `target`, replacing what is there in one step, and syncs
/// the folder. Across filesystems (a mapped root elsewhere) the bytes are copied next to the
/// target first, so the final step is still a rename.
pub fn place(temp: &TempFile, target: &Path) -> std::io::Result<()> {
    match std::fs::rename(temp.path(), target) {
        Ok(()) => {}
        Err(error) if error.kind() == ErrorKind::CrossesDevices => {
            copy_in(temp.path(), target)?;
            std::fs::remove_file(temp.path())?;
        }
        Err(error) => return Err(error),
    }
    sync_parent(target)
}

/// Moves a file or a folder to another filesystem: every file is copied beside its new
/// place, synced and renamed in, then the original is removed. When a copy fails, what was
/// copied is removed again and the original stays whole; a crash in between leaves both,
/// never half a file. Once the copy is whole the move counts as done: what of the original
/// cannot be removed stays behind (the next reconcile indexes it) with a warning. Symbolic
/// links inside are neither followed nor carried over.
pub fn move_across_filesystems(source: &Path, target: &Path) -> std::io::Result<()> {
    if let Err(error) = copy_tree(source, target).and_then(|()| sync_parent(target)) {
        let _ = remove_any(target);
        return Err(error);
    }
    if let Err(error) = remove_any(source).and_then(|()| sync_parent(source)) {
        tracing::warn!(source = %source.display(), %error, "a moved original could not be removed");
    }
    Ok(())
}

fn copy_tree(source: &Path, target: &Path) -> std::io::Result<()> {
    let kind = std::fs::symlink_metadata(source)?.file_type();
    if kind.is_dir() {
        std::fs::create_dir(target)?;
        for entry in std::fs::read_dir(source)? {
            let entry = entry?;
            copy_tree(&entry.path(), &target.join(entry.file_name()))?;
        }
        std::fs::File::open(target)?.sync_all()
    } else if kind.is_file() {
        copy_in(source, target)
    } else {
        Ok(())
    }
}

/// Copies `source` to `target` on another filesystem so that `target` appears whole or not at
/// all: the bytes go to a part file beside it, are synced, and the part file is renamed.
fn copy_in(source: &Path, target: &Path) -> std::io::Result<()> {
    let beside = target.with_file_name(format!(".{:016x}.cloudsync-part", rand::random::<u64>()));
    let copied = std::fs::copy(source, &beside)
        .and_then(|_| std::fs::File::open(&beside)?.sync_all())
        .and_then(|()| std::fs::rename(&beside, target));
    if copied.is_err() {
        let _ = std::fs::remove_file(&beside);
    }
    copied
}

fn remove_any(path: &Path) -> std::io::Result<()> {
    if std::fs::symlink_metadata(path)?.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    }
}

/// Keeps the bytes of a live file as version `rev` without moving it: a hard link when the
/// revisions folder is on the same filesystem, else a copy.
pub fn keep_version(data_dir: &Path, live: &Path, rev: &str) -> std::io::Result<()> {
    let kept = revision_file(data_dir, rev);
    if kept.exists() {
        return Ok(());
    }
    if !live.exists() {
        // The file went missing behind the server's back: there is nothing to keep.
        return Ok(());
    }
    if std::fs::hard_link(live, &kept).is_err() {
        std::fs::copy(live, &kept)?;
    }
    Ok(())
}

/// Removes the bytes of kept versions whose rows are gone (blocking). A file already gone is
/// not an error; one that cannot be removed is left for `cloudsync check --repair`.
pub fn remove_kept_versions(data_dir: &Path, revs: impl IntoIterator<Item = String>) {
    for rev in revs {
        let _ = std::fs::remove_file(revision_file(data_dir, &rev));
    }
}

/// Moves a live file into the revisions folder as version `rev`.
pub fn retire_version(data_dir: &Path, live: &Path, rev: &str) -> std::io::Result<()> {
    let kept = revision_file(data_dir, rev);
    match std::fs::rename(live, &kept) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == ErrorKind::NotFound => Ok(()),
        Err(_) => {
            std::fs::copy(live, &kept)?;
            std::fs::remove_file(live)
        }
    }
}

/// Appends the bytes of `chunk` to `target` at `offset` (cutting off anything after it, left
/// by a chunk that failed), and syncs it (blocking).
pub fn append_file(target: &Path, chunk: &Path, offset: i64) -> std::io::Result<()> {
    use std::io::{Seek, SeekFrom};
    let mut file =
        std::fs::OpenOptions::new().create(true).write(true).truncate(false).open(target)?;
    let offset = u64::try_from(offset).unwrap_or(0);
    file.set_len(offset)?;
    file.seek(SeekFrom::Start(offset))?;
    std::io::copy(&mut std::fs::File::open(chunk)?, &mut file)?;
    file.sync_all()
}

/// Syncs the folder holding `path`, so that a rename in it survives a crash.
pub fn sync_parent(path: &Path) -> std::io::Result<()> {
    match path.parent() {
        Some(parent) => std::fs::File::open(parent)?.sync_all(),
        None => Ok(()),
    }
}

/// Streams `length` bytes of a file from `start`, in pieces.
pub async fn read_range(
    path: &Path,
    start: u64,
    length: u64,
) -> ApiResult<impl Stream<Item = Result<Bytes, std::io::Error>> + use<>> {
    let mut file = tokio::fs::File::open(path).await?;
    file.seek(std::io::SeekFrom::Start(start)).await?;
    Ok(futures_util::stream::unfold((file, length), |(mut file, remaining)| async move {
        if remaining == 0 {
            return None;
        }
        let want = usize::try_from(remaining).unwrap_or(READ_CHUNK_BYTES).min(READ_CHUNK_BYTES);
        let mut buffer = vec![0u8; want];
        match file.read(&mut buffer).await {
            Ok(0) => None,
            Ok(read) => {
                buffer.truncate(read);
                Some((Ok(Bytes::from(buffer)), (file, remaining - read as u64)))
            }
            Err(error) => Some((Err(error), (file, 0))),
        }
    }))
}

/// Removes every leftover in the temporary folder (at start, before serving).
pub fn clear_tmp(data_dir: &Path) -> std::io::Result<usize> {
    let mut removed = 0;
    for entry in std::fs::read_dir(tmp_dir(data_dir))? {
        let entry = entry?;
        let path = entry.path();
        let result = if entry.file_type()?.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        if result.is_ok() {
            removed += 1;
        }
    }
    Ok(removed)
}

/// A size for people: `512 bytes`, `1.2 KB`, `3.4 MB` (powers of 1024).
pub fn human_size(bytes: i64) -> String {
    const UNITS: [&str; 5] = ["KB", "MB", "GB", "TB", "PB"];
    if bytes < 1024 {
        return if bytes == 1 { "1 byte".to_string() } else { format!("{bytes} bytes") };
    }
    #[allow(clippy::cast_precision_loss, reason = "one decimal is shown")]
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_for_people() {
        let table = [
            (0, "0 bytes"),
            (1, "1 byte"),
            (1023, "1023 bytes"),
            (1024, "1.0 KB"),
            (1_258_291, "1.2 MB"),
            (5 * 1024 * 1024 * 1024, "5.0 GB"),
        ];
        for (bytes, expected) in table {
            assert_eq!(human_size(bytes), expected);
        }
    }
}
