//! Assembling and running the server: state, middleware, routes, listener.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::{NormalizePath, from_fn};
use actix_web::{App, HttpServer, web};
use anyhow::Context as _;

use crate::clock::Clock;
use crate::config::Config;
use crate::db::Db;
use crate::notify::Notifier;
use crate::service::Context;
use crate::service::setup::{self, FirstStart};
use crate::{admin_ui, api, secrets, telemetry};

/// What every request handler can reach.
pub struct AppState {
    /// The services' context: database, clock, settings.
    pub context: Context,
    /// The configuration the server started with.
    pub config: Config,
    /// The base URL of links the server hands out, without a trailing slash.
    pub public_url: String,
}

/// A server bound to its port and ready to run.
pub struct Application {
    server: Server,
    port: u16,
    first_start: Option<FirstStart>,
}

impl Application {
    /// Opens the data folder, sets up a new server on first start, and binds the listener.
    pub async fn build(config: Config, clock: Arc<Clock>) -> anyhow::Result<Application> {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating data folder {}", config.data_dir.display()))?;
        let db = Db::open(&config.data_dir.join("cloudsync.db"))?;
        let notifier = Notifier::from_config(&config)?;
        for line in notifier.describe() {
            tracing::info!("{line}");
        }
        crate::storage::files::create_work_dirs(&config.data_dir)
            .context("creating the server's work folders")?;
        let cost = config.bcrypt_cost;
        let dummy_password_hash =
            Db::blocking(move || secrets::hash_password(&secrets::generate_password(), cost))
                .await
                .map_err(|error| anyhow::anyhow!("{error}"))?;
        let context = Context {
            db,
            clock,
            data_dir: config.data_dir.clone(),
            bcrypt_cost: config.bcrypt_cost,
            dummy_password_hash: Arc::new(dummy_password_hash),
            notifier: Arc::new(notifier),
            password_work: Context::password_permits(),
            upload_claims: Default::default(),
        };
        let first_start = setup::first_start(&context, config.admin_password.clone())
            .await
            .map_err(|error| anyhow::anyhow!("setting up a new server: {error}"))?;

        crate::service::files::start_up(&context)
            .await
            .map_err(|error| anyhow::anyhow!("cleaning up after the last run: {error}"))?;

        let listener = TcpListener::bind(config.listen)
            .with_context(|| format!("listening on {}", config.listen))?;
        let bound = listener.local_addr()?;
        let state =
            web::Data::new(AppState { public_url: config.public_url(bound), context, config });
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                // The last middleware added runs first: paths are trimmed before anything
                // else reads them.
                .wrap(from_fn(telemetry::log_request))
                .wrap(NormalizePath::trim())
                .configure(api::configure)
                .configure(admin_ui::configure)
                .default_service(web::to(api::no_such_endpoint))
        })
        .listen(listener)?
        .run();
        tracing::info!(address = %bound, "serving");
        Ok(Application { server, port: bound.port(), first_start })
    }

    /// The port the server listens on (useful when configured with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// What the first start did, when this start was the first.
    pub fn first_start(&self) -> Option<&FirstStart> {
        self.first_start.as_ref()
    }

    /// Serves until the server is stopped by a signal.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
