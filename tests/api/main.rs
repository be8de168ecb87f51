//! Integration tests: each test starts the real server on a free port with its own data
//! folder and talks HTTP to it.

// Helpers outside #[test] functions are test code too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod account;
mod activity;
mod auth;
mod binary;
mod errors;
mod helpers;
mod organizations;
mod permissions;
mod policies;
mod users;
