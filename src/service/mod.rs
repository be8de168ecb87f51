//! Services: one module per feature, each entry point one unit of work.
//!
//! A service authorizes the caller (through `domain::access`), runs its database work in one
//! transaction through `Db`, and writes its activity entry in that same transaction. Services
//! know nothing of HTTP or JSON: they take typed input and return rows or domain values.

pub mod access;
pub mod account;
pub mod activity;
pub mod auth;
pub mod files;
pub mod machines;
pub mod organizations;
pub mod policies;
pub mod reconcile;
pub mod roots;
pub mod setup;
pub mod shares;
pub mod two_step;
pub mod uploads;
pub mod users;

use std::path::PathBuf;
use std::sync::Arc;

use crate::clock::Clock;
use crate::db::Db;
use crate::error::ApiResult;
use crate::notify::Notifier;

/// What every service needs: the database, the time, and a few settings.
#[derive(Clone)]
pub struct Context {
    pub db: Db,
    pub clock: Arc<Clock>,
    pub data_dir: PathBuf,
    /// bcrypt cost for new password hashes.
    pub bcrypt_cost: u32,
    /// A hash checked against when the user does not exist, so that a sign-in with an
    /// unknown name costs the same time as one with a wrong password.
    pub dummy_password_hash: Arc<String>,
    /// Mail and SMS delivery (or the outbox), built once from the configuration.
    pub notifier: Arc<Notifier>,
    /// How many bcrypt computations may run at once (see [`Context::password_permits`]).
    pub password_work: Arc<tokio::sync::Semaphore>,
    /// Chunked uploads a request is working on.
    pub upload_claims: uploads::UploadClaims,
}

impl Context {
    /// Permits for bcrypt work: one less than the machine's cores (at least one), so that a
    /// burst of sign-ins queues among itself and leaves a core to every other request.
    pub fn password_permits() -> Arc<tokio::sync::Semaphore> {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        Arc::new(tokio::sync::Semaphore::new(cores.saturating_sub(1).max(1)))
    }

    /// Hashes a password with bcrypt at the configured cost, off the async threads and within
    /// the bcrypt permits.
    pub async fn hash_password(&self, password: String) -> ApiResult<String> {
        let cost = self.bcrypt_cost;
        let _permit = self.password_permit().await?;
        Db::blocking(move || crate::secrets::hash_password(&password, cost)).await
    }

    /// Checks a password against a bcrypt hash, off the async threads and within the bcrypt
    /// permits.
    pub async fn verify_password(&self, password: String, hash: String) -> ApiResult<bool> {
        let _permit = self.password_permit().await?;
        Db::blocking(move || Ok(crate::secrets::verify_password(&password, &hash))).await
    }

    async fn password_permit(&self) -> ApiResult<tokio::sync::SemaphorePermit<'_>> {
        self.password_work.acquire().await.map_err(|closed| {
            crate::error::ApiError::Internal(anyhow::anyhow!("password work closed: {closed}"))
        })
    }

    /// The current time as stored in the database.
    pub fn now_text(&self) -> String {
        crate::clock::format_time(self.clock.now())
    }
}
