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
pub mod two_step;
pub mod users;

use std::path::PathBuf;
use std::sync::Arc;

use crate::clock::Clock;
use crate::db::Db;
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
}

impl Context {
    /// The current time as stored in the database.
    pub fn now_text(&self) -> String {
        crate::clock::format_time(self.clock.now())
    }
}
