//! AXIS CloudSync: a self-hosted file sync and share server.
//!
//! The binary in `main.rs` parses the configuration and hands it to [`app::Application`];
//! everything else lives in this library so that the integration tests can start the very
//! same server on a free port. Modules are listed in reading order: from the edges (config,
//! errors, time) through storage and services to the HTTP layer.

pub mod clock;
pub mod config;
pub mod error;
pub mod telemetry;

pub mod db;
pub mod domain;
pub mod notify;
pub mod secrets;
pub mod service;
pub mod storage;

pub mod maintenance;

pub mod admin_ui;
pub mod api;
pub mod app;
