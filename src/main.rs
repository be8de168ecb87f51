//! The `cloudsync` binary: reads the configuration and runs the server.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use cloudsync::app::Application;
use cloudsync::clock::Clock;
use cloudsync::config::{Command, Config};
use cloudsync::service::setup::ADMIN_USERNAME;
use cloudsync::telemetry;

#[actix_web::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    telemetry::init();
    if let Some(Command::Backup { file }) = &config.command {
        return match cloudsync::maintenance::backup_database(&config.data_dir, file) {
            Ok(()) => {
                tracing::info!(file = %file.display(), "database copied");
                ExitCode::SUCCESS
            }
            Err(error) => {
                tracing::error!("backup failed: {error:#}");
                ExitCode::FAILURE
            }
        };
    }
    if let Some(Command::Check { repair }) = &config.command {
        return run_check(&config, *repair).await;
    }
    let application = match Application::build(config, Arc::new(Clock::system())).await {
        Ok(application) => application,
        Err(error) => {
            tracing::error!("cannot start: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(password) =
        application.first_start().and_then(|start| start.generated_admin_password.as_deref())
    {
        // The one time this password is shown: on standard output, never in the log.
        #[allow(clippy::print_stdout, reason = "the operator must see this once")]
        {
            println!(
                "Created the system administrator '{ADMIN_USERNAME}' with password: {password}"
            );
            println!("Sign in and change it; it is not shown again.");
        }
    }
    match application.run_until_stopped().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("server stopped: {error}");
            ExitCode::FAILURE
        }
    }
}

/// `cloudsync check`: prints one line per finding and a summary on standard output.
async fn run_check(config: &Config, repair: bool) -> ExitCode {
    let clock = Clock::system();
    match cloudsync::maintenance::check(&config.data_dir, repair, &clock).await {
        Ok(report) => {
            #[allow(clippy::print_stdout, reason = "the report is the command's output")]
            {
                for finding in &report.findings {
                    println!("{finding}");
                }
                println!("{}", report.summary());
            }
            if report.is_consistent() { ExitCode::SUCCESS } else { ExitCode::from(1) }
        }
        Err(error) => {
            tracing::error!("check failed: {error:#}");
            ExitCode::from(2)
        }
    }
}
