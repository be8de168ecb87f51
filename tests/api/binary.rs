//! The `cloudsync` binary itself: first start, the printed password, the request log.

use reqwest::StatusCode;
use tokio::process::Command;

use crate::process::ServerProcess;

/// Starts the binary with no admin password, as an operator would, and answers it with what
/// it printed on standard output.
async fn start(data_dir: &std::path::Path) -> (ServerProcess, String) {
    let mut server = ServerProcess::start_with(data_dir, None).await;
    let stdout = server.first_start_output().await;
    (server, stdout)
}

#[tokio::test]
async fn first_start_prints_a_generated_admin_password_once() {
    let data_dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();

    let (first, stdout) = start(data_dir.path()).await;
    let password = stdout
        .lines()
        .find_map(|line| line.split("password: ").nth(1))
        .unwrap_or_else(|| panic!("no password on standard output: {stdout:?}"))
        .trim()
        .to_string();
    assert!(password.len() >= 16);
    let response = client
        .post(format!("{}/1/auth/", first.address))
        .form(&[("username", "admin"), ("password", password.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    first.kill().await;

    assert!(data_dir.path().join("cloudsync.db").is_file());
    assert!(data_dir.path().join("roots").is_dir());

    let (second, stdout) = start(data_dir.path()).await;
    assert!(!stdout.contains("password"), "printed again: {stdout}");
    let response = client
        .post(format!("{}/1/auth", second.address))
        .form(&[("username", "admin"), ("password", password.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "the same password after a restart");
}

#[tokio::test]
async fn the_request_log_has_one_line_per_request_without_secrets() {
    let data_dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let (server, stdout) = start(data_dir.path()).await;
    let password =
        stdout.lines().find_map(|l| l.split("password: ").nth(1)).unwrap().trim().to_string();

    let response = client
        .post(format!("{}/1/auth/", server.address))
        .form(&[("username", "admin"), ("password", password.as_str())])
        .send()
        .await
        .unwrap();
    let token = response.json::<serde_json::Value>().await.unwrap()["session_token"]
        .as_str()
        .unwrap()
        .to_string();
    let response = client
        .get(format!("{}/1/account/info/?session_token={token}&marker=visible", server.address))
        .send()
        .await
        .unwrap();
    let request_id = response.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(response.status(), StatusCode::OK);
    let log = server.kill().await.join("\n");
    let info_line = log
        .lines()
        .find(|line| line.contains("/1/account/info"))
        .unwrap_or_else(|| panic!("no request line: {log}"));
    assert!(info_line.contains("GET") && info_line.contains("status=200"), "{info_line}");
    assert!(info_line.contains(&request_id), "{info_line}");
    assert!(info_line.contains("elapsed_ms"), "{info_line}");
    assert!(!log.contains(&token), "the token reached the log");
    assert!(!log.contains(&password), "the password reached the log");
    assert!(!log.contains("marker=visible"), "a query string reached the log");
}

#[tokio::test]
async fn backup_copies_the_database_while_the_server_writes() {
    let app = crate::helpers::spawn_app().await;
    for _ in 0..3 {
        app.admin_token().await;
    }
    let target_dir = tempfile::tempdir().unwrap();
    let target = target_dir.path().join("copy.db");

    // Sign-ins keep writing while the copy is taken.
    let writer = {
        let (client, url) = (app.client.clone(), app.url("/1/auth/"));
        tokio::spawn(async move {
            for _ in 0..20 {
                let form = [("username", "admin"), ("password", crate::helpers::ADMIN_PASSWORD)];
                client.post(&url).form(&form).send().await.unwrap();
            }
        })
    };
    let output = Command::new(env!("CARGO_BIN_EXE_cloudsync"))
        .arg("--data-dir")
        .arg(app.data_dir.path())
        .arg("backup")
        .arg(&target)
        .output()
        .await
        .unwrap();
    writer.await.unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));

    let copy = rusqlite::Connection::open(&target).unwrap();
    let check: String = copy.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
    let users: i64 = copy.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0)).unwrap();
    let sessions: i64 = copy.query_row("SELECT COUNT(*) FROM sessions", [], |r| r.get(0)).unwrap();
    assert_eq!(users, 1);
    assert!(sessions >= 3, "the sign-ins before the copy are in it: {sessions}");
    assert!(!target.with_extension("partial").exists());

    let again = Command::new(env!("CARGO_BIN_EXE_cloudsync"))
        .args(["--data-dir"])
        .arg(app.data_dir.path())
        .arg("backup")
        .arg(&target)
        .output()
        .await
        .unwrap();
    assert!(!again.status.success(), "an existing file is never overwritten");
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists already"));
}
