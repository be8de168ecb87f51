//! Integration tests: each test starts the real server on a free port with its own data
//! folder and talks HTTP to it.

// Helpers outside #[test] functions are test code too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod account;
mod activity;
mod admin_page;
mod auth;
mod binary;
mod check;
mod crash;
mod errors;
mod file_safety;
mod files;
mod helpers;
mod load;
mod machines;
mod organizations;
mod permissions;
mod policies;
mod process;
mod roots;
mod route_matrix;
mod shares;
mod two_step;
mod two_step_kit;
mod users;
