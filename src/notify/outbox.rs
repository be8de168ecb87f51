//! The outbox folder: where messages go when no mail server or SMS webhook is configured.
//!
//! Each message is one file, named by its time and a random suffix so that names sort by
//! time and never collide. A file appears whole or not at all: it is written under a hidden
//! temporary name, flushed to disk, then renamed. Files are readable by the server's user
//! only, since they hold sign-in codes.

use std::io;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use tokio::io::AsyncWriteExt;

/// A folder that receives messages as files.
#[derive(Clone, Debug)]
pub struct Outbox {
    dir: PathBuf,
}

impl Outbox {
    /// An outbox in the given folder; the folder is created at the first message.
    pub fn new(dir: PathBuf) -> Outbox {
        Outbox { dir }
    }

    /// The folder the files go to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes one message and returns its path. `extension` is the file name's ending without
    /// the leading dot, such as `eml`.
    pub async fn write(
        &self,
        extension: &str,
        contents: &[u8],
        now: DateTime<Utc>,
    ) -> io::Result<PathBuf> {
        tokio::fs::create_dir_all(&self.dir).await?;
        let stem =
            format!("{}-{}", now.format("%Y%m%dT%H%M%SZ"), hex::encode(rand::random::<[u8; 6]>()));
        let final_path = self.dir.join(format!("{stem}.{extension}"));
        let temporary_path = self.dir.join(format!(".{stem}.tmp"));
        let written = write_new_file(&temporary_path, contents).await;
        let renamed = match written {
            Ok(()) => tokio::fs::rename(&temporary_path, &final_path).await,
            Err(error) => Err(error),
        };
        if let Err(error) = renamed {
            // Best effort: a half-written temporary file is useless to anyone.
            let _ = tokio::fs::remove_file(&temporary_path).await;
            return Err(error);
        }
        Ok(final_path)
    }
}

async fn write_new_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(path).await?;
    file.write_all(contents).await?;
    file.sync_all().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn messages_become_whole_files_with_distinct_names() {
        let folder = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(folder.path().join("outbox"));
        let now = crate::clock::parse_time("2026-12-03T09:30:00Z").unwrap();

        let first = outbox.write("eml", b"first", now).await.unwrap();
        let second = outbox.write("sms.json", b"second", now).await.unwrap();

        assert_ne!(first, second);
        assert!(first.file_name().unwrap().to_str().unwrap().starts_with("20261203T093000Z-"));
        assert!(first.to_str().unwrap().ends_with(".eml"));
        assert!(second.to_str().unwrap().ends_with(".sms.json"));
        assert_eq!(std::fs::read(&first).unwrap(), b"first");
        let names: Vec<_> = std::fs::read_dir(outbox.dir()).unwrap().collect();
        assert_eq!(names.len(), 2, "no temporary files are left behind");
    }
}
