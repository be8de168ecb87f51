//! Storage: the SQLite pool and the one entry point for database work.
//!
//! rusqlite blocks, so all database work goes through [`Db::read`] or [`Db::write`], which
//! run a closure on tokio's blocking threads with a pooled connection, never on the async
//! workers. A write closure runs inside one `BEGIN IMMEDIATE` transaction while holding the
//! process-wide writer lock, so concurrent writers queue in the server instead of failing
//! with "database is locked". The submodules hold the SQL, one file per table; nothing
//! outside `db` writes SQL.

pub mod activity;
pub mod entries;
pub mod machines;
pub mod migrate;
pub mod orgs;
pub mod policies;
pub mod roots;
pub mod sessions;
pub mod shares;
pub mod throttle;
pub mod two_step;
pub mod users;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, Transaction, TransactionBehavior};
use tokio::sync::Semaphore;
use tracing::Span;

use crate::error::{ApiError, ApiResult};

/// How many connections the pool keeps; also how many blocking database jobs run at once.
const POOL_SIZE: u32 = 8;

/// The database handle shared by all requests.
#[derive(Clone)]
pub struct Db {
    pool: r2d2::Pool<SqliteConnectionManager>,
    permits: Arc<Semaphore>,
    writer: Arc<Mutex<()>>,
}

impl Db {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub fn open(path: &Path) -> anyhow::Result<Db> {
        // Switch a new file to WAL once, alone: the pool opens its connections in parallel,
        // and several of them making that switch at once fail with "database is locked".
        Connection::open(path)
            .and_then(|conn| conn.pragma_update(None, "journal_mode", "WAL"))
            .with_context(|| format!("opening database {}", path.display()))?;
        let manager = SqliteConnectionManager::file(path).with_init(|conn| {
            conn.busy_timeout(Duration::from_secs(30))?;
            conn.execute_batch(
                "PRAGMA journal_mode = WAL;
                 PRAGMA synchronous = NORMAL;
                 PRAGMA foreign_keys = ON;",
            )
        });
        let pool = r2d2::Pool::builder()
            .max_size(POOL_SIZE)
            .build(manager)
            .with_context(|| format!("opening database {}", path.display()))?;
        let db = Db {
            pool,
            permits: Arc::new(Semaphore::new(POOL_SIZE as usize)),
            writer: Arc::new(Mutex::new(())),
        };
        let mut conn = db.pool.get().context("getting a database connection")?;
        migrate::migrate(&mut conn).context("migrating the database schema")?;
        Ok(db)
    }

    /// Runs read-only work with a pooled connection, off the async threads.
    pub async fn read<T, F>(&self, work: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> ApiResult<T> + Send + 'static,
    {
        let pool = self.pool.clone();
        self.on_blocking_thread(move || {
            let conn = pool.get()?;
            work(&conn)
        })
        .await
    }

    /// Runs work in one write transaction, off the async threads: committed when the closure
    /// returns `Ok`, rolled back when it returns `Err`.
    pub async fn write<T, F>(&self, work: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> ApiResult<T> + Send + 'static,
    {
        let pool = self.pool.clone();
        let writer = self.writer.clone();
        self.on_blocking_thread(move || {
            let mut conn = pool.get()?;
            // A poisoned lock only means another writer panicked; its transaction was rolled
            // back when its connection dropped, so the database is consistent.
            let _guard = writer.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let value = work(&tx)?;
            tx.commit()?;
            Ok(value)
        })
        .await
    }

    /// Runs synchronous work that holds no connection (bcrypt, file hashing) off the async
    /// threads, keeping the request's tracing span.
    pub async fn blocking<T, F>(work: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce() -> ApiResult<T> + Send + 'static,
    {
        let span = Span::current();
        tokio::task::spawn_blocking(move || span.in_scope(work))
            .await
            .map_err(|join| ApiError::Internal(anyhow::anyhow!("blocking task failed: {join}")))?
    }

    async fn on_blocking_thread<T, F>(&self, work: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce() -> ApiResult<T> + Send + 'static,
    {
        // The permit keeps blocking threads from piling up waiting for a pooled connection.
        let _permit =
            self.permits.acquire().await.map_err(|closed| {
                ApiError::Internal(anyhow::anyhow!("database closed: {closed}"))
            })?;
        Db::blocking(work).await
    }
}
