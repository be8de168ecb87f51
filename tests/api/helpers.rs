//! The test harness: a real server on a free port with a temporary data folder.

use std::sync::Arc;

use chrono::Duration;
use cloudsync::app::Application;
use cloudsync::clock::Clock;
use cloudsync::config::Config;
use cloudsync::db::users::{NewUser, insert_user};
use cloudsync::domain::{Role, TwoStepMode};
use reqwest::{Method, Response, StatusCode};
use serde_json::Value;
use tempfile::TempDir;

/// The password of `admin` in every test server.
pub const ADMIN_PASSWORD: &str = "admin-test-password";

/// A running server and what a test needs to talk to it.
pub struct TestApp {
    pub address: String,
    pub clock: Arc<Clock>,
    pub data_dir: TempDir,
    pub client: reqwest::Client,
}

/// Starts the real application on 127.0.0.1 with a fresh data folder and a cheap bcrypt cost.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts the real application like [`spawn_app`], letting the test set options first.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Config)) -> TestApp {
    let data_dir = tempfile::tempdir().expect("temporary data folder");
    let mut config = Config::with_data_dir(data_dir.path().to_path_buf());
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.admin_password = Some(ADMIN_PASSWORD.into());
    config.bcrypt_cost = 4;
    configure(&mut config);
    let clock = Arc::new(Clock::system());
    let application = Application::build(config, clock.clone()).await.expect("server starts");
    let address = format!("http://127.0.0.1:{}", application.port());
    tokio::spawn(application.run_until_stopped());
    TestApp { address, clock, data_dir, client: reqwest::Client::new() }
}

impl TestApp {
    /// The full URL of a path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// `POST /1/auth/` with a form body.
    pub async fn sign_in(&self, username: &str, password: &str) -> Response {
        self.client
            .post(self.url("/1/auth/"))
            .form(&[("username", username), ("password", password)])
            .send()
            .await
            .expect("request sent")
    }

    /// Signs in and returns the session token, failing the test otherwise.
    pub async fn token_for(&self, username: &str, password: &str) -> String {
        let response = self.sign_in(username, password).await;
        assert_eq!(response.status(), StatusCode::OK, "sign-in of {username}");
        let body: Value = response.json().await.unwrap();
        body["session_token"].as_str().expect("token in answer").to_string()
    }

    /// A token of the `admin` system administrator.
    pub async fn admin_token(&self) -> String {
        self.token_for("admin", ADMIN_PASSWORD).await
    }

    /// A GET with the token as a Bearer header and the given query parameters.
    pub async fn get(&self, path: &str, token: &str, query: &[(&str, &str)]) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .query(query)
            .send()
            .await
            .expect("request sent")
    }

    /// A POST with the token as a Bearer header and the parameters as a form body.
    pub async fn post_form(&self, path: &str, token: &str, form: &[(&str, &str)]) -> Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .form(form)
            .send()
            .await
            .expect("request sent")
    }

    /// A request with a raw method, path and query string, and no credentials.
    pub async fn raw(&self, method: Method, path_and_query: &str) -> Response {
        self.client.request(method, self.url(path_and_query)).send().await.expect("request sent")
    }

    /// Moves the server's clock forward.
    pub fn advance_clock(&self, by: Duration) {
        self.clock.advance(by);
    }

    /// Stores a user straight into the database, for tests of features that do not manage
    /// users themselves. Returns the user id.
    pub fn seed_user(&self, username: &str, password: &str, role: Role, active: bool) -> i64 {
        let conn = self.database();
        let hash = bcrypt::hash(password, 4).unwrap();
        let now = cloudsync::clock::format_time(self.clock.now());
        let id = insert_user(
            &conn,
            &NewUser {
                username,
                email: Some(&format!("{username}@example.test")),
                password_hash: &hash,
                first_name: "Test",
                last_name: username,
                organization_id: 1,
                role,
                two_step_mode: TwoStepMode::None,
                mobile_phone: None,
                totp_secret: None,
                space_quota: None,
                created: &now,
            },
        )
        .unwrap();
        conn.execute("UPDATE users SET active = ?2 WHERE id = ?1", (id, active)).unwrap();
        id
    }

    /// The folder on disk of a root created by the server.
    pub fn root_folder(&self, root_id: i64) -> std::path::PathBuf {
        self.data_dir.path().join("roots").join(root_id.to_string())
    }

    /// A read-only handle on the server's SQLite file, to check what is stored.
    pub fn database(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.data_dir.path().join("cloudsync.db")).unwrap()
    }
}

/// Reads a JSON answer, asserting its status first.
pub async fn json_with_status(response: Response, expected: StatusCode) -> Value {
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, expected, "unexpected status; body: {text}");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
}

/// Asserts a failure answer's status, `error` code and (optionally) exact message.
pub async fn assert_error(
    response: Response,
    status: StatusCode,
    code: &str,
    message: Option<&str>,
) -> Value {
    let body = json_with_status(response, status).await;
    assert_eq!(body["success"], false, "{body}");
    assert_eq!(body["error"], code, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    if let Some(message) = message {
        assert_eq!(body["message"], message, "{body}");
    }
    body
}
