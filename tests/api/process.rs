//! The `cloudsync` binary as a child process: started on a free port, its log collected,
//! killed with SIGKILL, and its `check` command run on a data folder.

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The password of `admin` in servers started here.
pub const PROCESS_ADMIN_PASSWORD: &str = "process-admin-password";

/// A running server process.
pub struct ServerProcess {
    pub child: Child,
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    /// Every line the server logged so far.
    pub log: Arc<Mutex<Vec<String>>>,
}

impl ServerProcess {
    /// Starts the binary on `data_dir` with [`PROCESS_ADMIN_PASSWORD`] and waits until it
    /// serves.
    pub async fn start(data_dir: &Path) -> ServerProcess {
        ServerProcess::start_with(data_dir, Some(PROCESS_ADMIN_PASSWORD)).await
    }

    /// Starts the binary on `data_dir` and waits until it serves. Without an admin password
    /// a first start generates one and prints it; [`ServerProcess::first_start_output`]
    /// reads it.
    pub async fn start_with(data_dir: &Path, admin_password: Option<&str>) -> ServerProcess {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cloudsync"));
        command
            .args(["--listen", "127.0.0.1:0", "--bcrypt-cost", "4", "--data-dir"])
            .arg(data_dir)
            .env_remove("CLOUDSYNC_ADMIN_PASSWORD")
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(password) = admin_password {
            command.args(["--admin-password", password]);
        }
        let mut child = command.spawn().expect("binary starts");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (found, address) = tokio::sync::oneshot::channel();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let collected = log.clone();
        tokio::spawn(async move {
            let mut found = Some(found);
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(at) = line.find("address=")
                    && let Some(sender) = found.take()
                {
                    let address = line[at + "address=".len()..].split_whitespace().next();
                    let _ = sender.send(address.unwrap_or_default().to_string());
                }
                collected.lock().unwrap().push(line);
            }
        });
        let address = tokio::time::timeout(Duration::from_secs(30), address)
            .await
            .expect("the server logs its address in time")
            .unwrap_or_else(|_| panic!("the server exited before serving: {:?}", log));
        ServerProcess { child, address: format!("http://{address}"), log }
    }

    /// What the server printed on standard output by now: only a first start prints, once.
    pub async fn first_start_output(&mut self) -> String {
        let Some(stdout) = self.child.stdout.take() else { return String::new() };
        let mut lines = BufReader::new(stdout).lines();
        let mut out = String::new();
        while let Ok(Ok(Some(line))) =
            tokio::time::timeout(Duration::from_millis(300), lines.next_line()).await
        {
            out.push_str(&line);
            out.push('\n');
        }
        out
    }

    /// The full URL of a path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Signs in as `admin` and answers the session token.
    pub async fn admin_token(&self, client: &reqwest::Client) -> String {
        let response = client
            .post(self.url("/1/auth/"))
            .form(&[("username", "admin"), ("password", PROCESS_ADMIN_PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: serde_json::Value = response.json().await.unwrap();
        body["session_token"].as_str().unwrap().to_string()
    }

    /// The resident memory of the process in KiB, from /proc.
    pub fn rss_kib(&self) -> Option<u64> {
        let pid = self.child.id()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// Kills the process with SIGKILL and waits until it is gone.
    pub async fn kill(mut self) -> Vec<String> {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
        // Give the log reader a moment to take the last lines.
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.log.lock().unwrap().clone()
    }
}

/// Runs `cloudsync --data-dir <data_dir> check [args]`: exit code and standard output.
pub async fn run_check(data_dir: &Path, args: &[&str]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_cloudsync"))
        .arg("--data-dir")
        .arg(data_dir)
        .arg("check")
        .args(args)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    (output.status.code().unwrap_or(-1), format!("{stdout}{stderr}"))
}
