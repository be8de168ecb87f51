//! Command-line flags and `CLOUDSYNC_*` environment variables.
//!
//! Parsed and validated once in `main` (or built directly by tests) and passed down inside
//! the application state; there is no global configuration.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// How the server runs. Every option is a flag and an environment variable.
#[derive(Clone, Parser)]
#[command(name = "cloudsync", version, about = "AXIS CloudSync file sync and share server")]
pub struct Config {
    /// What to do; serving is the default.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Address and port to serve on.
    #[arg(long, env = "CLOUDSYNC_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Folder holding the database, the roots' folders, uploads in progress and the outbox.
    #[arg(long, env = "CLOUDSYNC_DATA_DIR", default_value = "./data", global = true)]
    pub data_dir: PathBuf,

    /// Base URL that share links point to; defaults to `http://<listen>`.
    #[arg(long, env = "CLOUDSYNC_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Outgoing mail server: `smtp://[user:pass@]host[:port]`, `smtps://…` or
    /// `smtp+plain://host:port`. Without it, mail is written to `<data-dir>/outbox/`.
    #[arg(long, env = "CLOUDSYNC_SMTP_URL")]
    pub smtp_url: Option<String>,

    /// PEM file of certificates to trust for the mail server's TLS, beside the public roots
    /// (for a mail server whose certificate comes from the office's own authority).
    #[arg(long, env = "CLOUDSYNC_SMTP_CA_FILE")]
    pub smtp_ca_file: Option<PathBuf>,

    /// Sender address of the mail the server sends.
    #[arg(long, env = "CLOUDSYNC_MAIL_FROM", default_value = "cloudsync@localhost")]
    pub mail_from: String,

    /// URL that receives SMS texts as JSON `{"to", "text"}`; without it they go to the outbox.
    #[arg(long, env = "CLOUDSYNC_SMS_WEBHOOK")]
    pub sms_webhook: Option<String>,

    /// Seconds a mail server or SMS webhook may take to accept a message before the delivery
    /// counts as failed (1 to 300).
    #[arg(long, env = "CLOUDSYNC_DELIVERY_TIMEOUT_SECONDS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=300))]
    pub delivery_timeout_seconds: u64,

    /// Largest accepted upload in bytes; without it only quotas limit uploads.
    #[arg(long, env = "CLOUDSYNC_MAX_UPLOAD_BYTES")]
    pub max_upload_bytes: Option<u64>,

    /// Password of the `admin` account created on first start; random and printed when unset.
    #[arg(long, env = "CLOUDSYNC_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,

    /// bcrypt work factor for new password hashes (4 to 31). Lower is faster and weaker.
    #[arg(long, env = "CLOUDSYNC_BCRYPT_COST", default_value_t = bcrypt::DEFAULT_COST,
          value_parser = clap::value_parser!(u32).range(4..=31))]
    pub bcrypt_cost: u32,
}

/// The binary's subcommands.
#[derive(Clone, Debug, Subcommand)]
pub enum Command {
    /// Serve the API and the admin page (the default).
    Serve,
    /// Write a consistent copy of the database to FILE, also while the server runs.
    Backup {
        /// Where to write the copy; must not exist yet.
        file: PathBuf,
    },
    /// Compare the index with the files on disk and report what differs (--repair fixes it).
    ///
    /// Looks for files not in the index, entries whose file is gone, wrong sizes and SHA-256
    /// hashes (every file is read), usage totals, kept versions missing or orphaned, and
    /// leftover temporary files. Prints one line per problem and a summary. Exit status: 0 when
    /// the index and the disk agree (or --repair fixed everything found), 1 when problems
    /// remain, 2 when the check could not run.
    ///
    /// Safe while the server runs: every finding is confirmed, and every repair written,
    /// inside a write transaction (`BEGIN IMMEDIATE`), the lock the server's own writes take,
    /// so a write the server commits meanwhile is neither reported nor undone; temporary
    /// files count as leftovers only after an hour untouched. Reading every file costs disk
    /// bandwidth, so a quiet hour is the kinder moment.
    Check {
        /// Also fix what is safe to fix: index files found on disk, mark entries whose file
        /// is gone as deleted, take sizes and hashes from the disk, recount usage, and remove
        /// leftover temporary files. Files in roots' folders are never removed.
        #[arg(long)]
        repair: bool,
    },
}

impl Config {
    /// The configuration a flagless start would have, rooted at `data_dir`; used by tests.
    pub fn with_data_dir(data_dir: PathBuf) -> Config {
        let mut config = Config::parse_from(["cloudsync"]);
        config.data_dir = data_dir;
        config
    }

    /// The base URL for links, without a trailing slash.
    pub fn public_url(&self, bound: SocketAddr) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => format!("http://{bound}"),
        }
    }
}

impl std::fmt::Debug for Config {
    // Hand-written so that the admin password and SMTP credentials never reach a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("command", &self.command)
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("public_url", &self.public_url)
            .field("smtp_url", &self.smtp_url.as_ref().map(|_| "<set>"))
            .field("smtp_ca_file", &self.smtp_ca_file)
            .field("mail_from", &self.mail_from)
            .field("sms_webhook", &self.sms_webhook.as_ref().map(|_| "<set>"))
            .field("delivery_timeout_seconds", &self.delivery_timeout_seconds)
            .field("max_upload_bytes", &self.max_upload_bytes)
            .field("admin_password", &self.admin_password.as_ref().map(|_| "<set>"))
            .field("bcrypt_cost", &self.bcrypt_cost)
            .finish()
    }
}
