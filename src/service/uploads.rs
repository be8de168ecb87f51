//! Chunked uploads: a file sent in pieces, each starting where the bytes received so far end,
//! then committed to a path like a whole upload.
//!
//! The bytes of an upload in progress live in `<data-dir>/uploads/<id>` and its length in the
//! `uploads` table. A chunk is appended outside the database lock, so a large chunk delays no
//! other write; an [`UploadClaims`] entry keeps a second request for the same upload out
//! meanwhile. The file may run ahead of the recorded length (a crash after the append, before
//! the update): the next chunk is written at the recorded length, cutting what lies beyond.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use crate::db::Db;
use crate::db::entries::{self, EntryRow, UploadRow};
use crate::domain::Caller;
use crate::error::{ApiError, ApiResult};
use crate::service::Context;
use crate::service::files::{WriteMode, store_upload};
use crate::storage::files::{self as disk, Received, TempFile};
use crate::storage::paths::SafePath;

/// How long a chunked upload waits for its next chunk.
pub const UPLOAD_LIFETIME_HOURS: i64 = 24;

/// The uploads a request is appending to or committing right now.
#[derive(Clone, Default)]
pub struct UploadClaims(Arc<Mutex<HashSet<String>>>);

/// Held while a request works on one upload; released when dropped.
pub struct UploadClaim {
    claims: UploadClaims,
    id: String,
}

impl UploadClaims {
    /// Claims upload `id`, or answers 409 when another request holds it.
    pub fn claim(&self, id: &str) -> ApiResult<UploadClaim> {
        let mut held = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !held.insert(id.to_string()) {
            return Err(ApiError::conflict(
                "Another chunk or commit of this upload is in progress; send the next request \
                 once it is answered.",
            ));
        }
        Ok(UploadClaim { claims: self.clone(), id: id.to_string() })
    }
}

impl Drop for UploadClaim {
    fn drop(&mut self) {
        let mut held = self.claims.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        held.remove(&self.id);
    }
}

/// Removes chunked uploads whose time ran out, with their bytes.
pub async fn expire_uploads(context: &Context) -> ApiResult<usize> {
    let now = context.now_text();
    let uploads = disk::uploads_dir(&context.data_dir);
    context
        .db
        .write(move |tx| {
            let expired = entries::delete_expired_uploads(tx, &now)?;
            for id in &expired {
                let _ = std::fs::remove_file(uploads.join(id));
            }
            Ok(expired.len())
        })
        .await
}

/// The state of a chunked upload after a chunk.
#[derive(Debug)]
pub struct ChunkState {
    pub upload_id: String,
    pub offset: i64,
    pub expires: String,
}

/// Adds a chunk (already received into a temporary file) to a chunked upload, starting one
/// when `upload_id` is `None`. The chunk must start at the bytes received so far.
pub async fn append_chunk(
    context: &Context,
    caller: &Caller,
    upload_id: Option<String>,
    offset: Option<i64>,
    chunk: Received,
    limit: Option<u64>,
) -> ApiResult<ChunkState> {
    let now = context.clock.now();
    let created = crate::clock::format_time(now);
    let expires = crate::clock::format_time(now + chrono::Duration::hours(UPLOAD_LIFETIME_HOURS));
    let user_id = caller.user_id;
    let (id, claim, received) = match upload_id {
        None => {
            if offset.is_some_and(|offset| offset != 0) {
                return Err(ApiError::WrongOffset { expected: 0 });
            }
            check_limit(chunk.size, limit)?;
            expire_uploads(context).await?;
            let id = format!("{:032x}", rand::random::<u128>());
            let claim = context.upload_claims.claim(&id)?;
            // Recorded before its bytes: a crash in between leaves an empty upload.
            let row = UploadRow { id: id.clone(), user_id, received: 0, expires: expires.clone() };
            let created = created.clone();
            context.db.write(move |tx| Ok(entries::insert_upload(tx, &row, &created)?)).await?;
            (id, claim, 0)
        }
        Some(id) => {
            let claim = context.upload_claims.claim(&id)?;
            let (lookup, now) = (id.clone(), created.clone());
            let upload =
                context.db.read(move |conn| find_own_upload(conn, &lookup, user_id, &now)).await?;
            let offset = offset.ok_or_else(|| ApiError::missing("offset"))?;
            if offset != upload.received {
                return Err(ApiError::WrongOffset { expected: upload.received });
            }
            check_limit(upload.received + chunk.size, limit)?;
            (id, claim, upload.received)
        }
    };
    let total = received + chunk.size;
    let file = disk::uploads_dir(&context.data_dir).join(&id);
    let written = file.clone();
    Db::blocking(move || Ok(disk::append_file(&written, chunk.temp.path(), received)?)).await?;
    let recorded = id.clone();
    let state = context
        .db
        .write(move |tx| {
            // The upload may have expired while its chunk was written.
            if let Err(gone) = find_own_upload(tx, &recorded, user_id, &created) {
                let _ = std::fs::remove_file(&file);
                return Err(gone);
            }
            entries::update_upload(tx, &recorded, total, &expires)?;
            Ok(ChunkState { upload_id: recorded, offset: total, expires })
        })
        .await?;
    drop(claim);
    Ok(state)
}

fn check_limit(total: i64, limit: Option<u64>) -> ApiResult<()> {
    disk::within_limit(u64::try_from(total).unwrap_or(u64::MAX), limit)
}

fn find_own_upload(
    conn: &rusqlite::Connection,
    id: &str,
    user_id: i64,
    now: &str,
) -> ApiResult<UploadRow> {
    entries::find_upload(conn, id)?
        .filter(|upload| upload.user_id == user_id && upload.expires.as_str() >= now)
        .ok_or_else(|| ApiError::NotFound("No such upload (or it expired).".into()))
}

/// Stores the bytes of a chunked upload as a file, like `files_put`. The upload stays
/// available when the commit fails (a conflict, a quota), and is gone once it succeeds.
pub async fn commit_chunked(
    context: &Context,
    caller: &Caller,
    root_id: i64,
    path: SafePath,
    upload_id: String,
    mode: WriteMode,
) -> ApiResult<EntryRow> {
    let now = context.now_text();
    let user_id = caller.user_id;
    // Claimed before the lookup: a commit that got here first has removed the upload by the
    // time its claim is released.
    let claim = context.upload_claims.claim(&upload_id)?;
    let lookup_id = upload_id.clone();
    context
        .db
        .read(move |conn| find_own_upload(conn, &lookup_id, user_id, &now).map(|_| ()))
        .await?;
    let data_dir = context.data_dir.clone();
    let source = disk::uploads_dir(&data_dir).join(&upload_id);
    let received = Db::blocking(move || {
        let temp = TempFile::new(&data_dir);
        if std::fs::hard_link(&source, temp.path()).is_err() {
            std::fs::copy(&source, temp.path())?;
        }
        let (size, content_hash) = disk::hash_file(temp.path())?;
        Ok(Received { temp, size, content_hash })
    })
    .await?;
    let entry = store_upload(context, caller, root_id, path, received, mode).await?;
    let uploads = disk::uploads_dir(&context.data_dir);
    context
        .db
        .write(move |tx| {
            entries::delete_upload(tx, &upload_id)?;
            let _ = std::fs::remove_file(uploads.join(&upload_id));
            Ok(())
        })
        .await?;
    drop(claim);
    Ok(entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upload_is_claimed_by_one_request_at_a_time() {
        let claims = UploadClaims::default();
        let first = claims.claim("a").expect("free");
        assert!(claims.claim("a").is_err(), "held by the first request");
        let other = claims.claim("b").expect("another upload is free");
        drop(first);
        claims.claim("a").expect("free again once released");
        drop(other);
    }
}
