//! The admin page in a real headless Chromium, driven over WebDriver.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them). A missing
//! browser fails these tests: they never pass without having run.

use std::net::TcpListener;
use std::process::Stdio;
use std::time::Duration;

use cloudsync::domain::Role;
use fantoccini::{Client, ClientBuilder, Locator};
use reqwest::StatusCode;
use serde_json::json;
use tokio::process::{Child, Command};

use crate::helpers::{ADMIN_PASSWORD, TestApp, json_with_status, spawn_app, spawn_app_with};
use crate::two_step_kit::{MailServer, code_in};

/// A chromedriver process and a browser session on it.
pub struct Browser {
    pub client: Client,
    _driver: Child,
    _profile: tempfile::TempDir,
}

const DRIVER_CANDIDATES: &[&str] = &["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"];

impl Browser {
    /// Starts chromedriver on a free port and opens a headless Chromium session.
    pub async fn start() -> Browser {
        let driver_path = DRIVER_CANDIDATES
            .iter()
            .find(|path| std::path::Path::new(path).exists())
            .unwrap_or_else(|| {
                panic!(
                    "chromedriver not found: the admin page tests need Debian's chromium and \
                     chromium-driver (apt-get install chromium chromium-driver)"
                )
            });
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = Command::new(driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let profile = tempfile::tempdir().unwrap();
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--window-size=1200,1000",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let mut last_error = None;
        for _ in 0..50 {
            match ClientBuilder::new(connector.clone())
                .capabilities(capabilities.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(client) => return Browser { client, _driver: driver, _profile: profile },
                Err(error) => last_error = Some(error),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("no WebDriver session: {last_error:?}");
    }

    /// Waits until the element's text satisfies `check`, and returns the text.
    pub async fn wait_for_text(&self, css: &str, check: impl Fn(&str) -> bool) -> String {
        let mut last = String::new();
        for _ in 0..100 {
            if let Ok(element) = self.client.find(Locator::Css(css)).await
                && let Ok(text) = element.text().await
            {
                if check(&text) {
                    return text;
                }
                last = text;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{css} never showed the expected text; last text: {last:?}");
    }

    /// Waits until an element is displayed.
    pub async fn wait_visible(&self, css: &str) {
        for _ in 0..100 {
            if let Ok(element) = self.client.find(Locator::Css(css)).await
                && element.is_displayed().await.unwrap_or(false)
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{css} never became visible");
    }

    /// Replaces an input's value.
    pub async fn fill(&self, css: &str, value: &str) {
        let element = self.client.find(Locator::Css(css)).await.unwrap();
        element.clear().await.unwrap();
        element.send_keys(value).await.unwrap();
    }

    /// Clicks an element.
    pub async fn click(&self, css: &str) {
        self.client.find(Locator::Css(css)).await.unwrap().click().await.unwrap();
    }

    /// Opens the admin page and submits the sign-in form.
    pub async fn sign_in(&self, app: &TestApp, username: &str, password: &str) {
        self.client.goto(&app.url("/admin/")).await.unwrap();
        self.wait_visible("#username").await;
        self.fill("#username", username).await;
        self.fill("#password", password).await;
        self.click("#sign-in-button").await;
    }

    /// Ends the browser session.
    pub async fn close(self) {
        self.client.close().await.unwrap();
    }
}

/// Keeps a screenshot of the page as a test artifact in `target/tmp/artifacts/`.
async fn save_screenshot(browser: &Browser, name: &str) {
    let screenshot = browser.client.screenshot().await.unwrap();
    let artifacts = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    std::fs::write(artifacts.join(name), screenshot).unwrap();
}

#[tokio::test]
async fn an_admin_sets_the_api_token_lifetime_on_the_policies_page() {
    let app = spawn_app().await;
    let browser = Browser::start().await;

    browser.sign_in(&app, "admin", ADMIN_PASSWORD).await;
    browser.wait_visible("#tab-settings").await;
    browser.click("#tab-settings").await;
    browser.click("#open-policies").await;
    browser.wait_visible("#policies-form").await;
    let legend = browser.wait_for_text("#policies-form fieldset legend", |t| !t.is_empty()).await;
    assert_eq!(legend, "API Token Settings", "the first group of the policies");
    let hours = browser.client.find(Locator::Css("#api_token_hours")).await.unwrap();
    assert_eq!(hours.prop("value").await.unwrap().as_deref(), Some("720"));

    browser.fill("#api_token_hours", "48").await;
    browser.click("#save-policies").await;
    browser.wait_for_text("#policies-status", |t| t == "Saved.").await;

    let token = app.admin_token().await;
    let policies =
        json_with_status(app.get("/1/policies", &token, &[]).await, StatusCode::OK).await;
    assert_eq!(policies["api_token_hours"], 48);

    save_screenshot(&browser, "admin-policies.png").await;

    browser.fill("#api_token_hours", "0").await;
    browser.click("#save-policies").await;
    let error = browser.wait_for_text("#api_token_hours-error", |t| !t.is_empty()).await;
    assert!(error.contains("api_token_hours") && error.contains("87600"), "{error}");
    let policies =
        json_with_status(app.get("/1/policies", &token, &[]).await, StatusCode::OK).await;
    assert_eq!(policies["api_token_hours"], 48, "the refused value was not stored");
    browser.close().await;
}

#[tokio::test]
async fn a_plain_user_is_refused_and_a_wrong_password_shows_the_servers_message() {
    let app = spawn_app().await;
    app.seed_user("pat", "pat-password", Role::User, true);
    let browser = Browser::start().await;

    browser.sign_in(&app, "admin", "wrong password").await;
    let message = browser.wait_for_text("#sign-in-error", |t| !t.is_empty()).await;
    assert_eq!(message, "Invalid username or password.");

    browser.sign_in(&app, "pat", "pat-password").await;
    browser.wait_visible("#refusal").await;
    let console = browser.client.find(Locator::Css("#console")).await.unwrap();
    assert!(!console.is_displayed().await.unwrap(), "the console stays hidden");
    browser.close().await;
}

#[tokio::test]
async fn the_page_is_served_with_strict_headers() {
    let app = spawn_app().await;
    for path in ["/admin/", "/admin", "/admin/index.html"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let headers = response.headers();
        assert!(headers["content-type"].to_str().unwrap().starts_with("text/html"));
        assert_eq!(headers["cache-control"], "no-store");
        assert_eq!(headers["x-frame-options"], "DENY");
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    }
    let script = app.client.get(app.url("/admin/admin.js")).send().await.unwrap();
    assert!(script.headers()["content-type"].to_str().unwrap().contains("javascript"));
    let style = app.client.get(app.url("/admin/admin.css")).send().await.unwrap();
    assert!(style.headers()["content-type"].to_str().unwrap().starts_with("text/css"));
    let missing = app.client.get(app.url("/admin/nothing.js")).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    // No inline script or style anywhere in the page.
    let html = app.client.get(app.url("/admin/")).send().await.unwrap().text().await.unwrap();
    assert!(!html.contains("<style") && !html.contains(" style="), "inline style");
    assert!(
        html.matches("<script").count() == html.matches("<script src=").count(),
        "inline script"
    );
}

#[tokio::test]
async fn an_admin_signs_in_through_an_email_second_step() {
    let mut mail = MailServer::start().await;
    let url = mail.plain_url();
    let app = spawn_app_with(|config| config.smtp_url = Some(url)).await;
    let id = app.seed_two_step_user("olga", "email", Some("olga@example.test"), None, None);
    app.database().execute("UPDATE users SET role = 'org_admin' WHERE id = ?1", [id]).unwrap();
    let browser = Browser::start().await;

    browser.sign_in(&app, "olga", "olga-password").await;
    browser.wait_visible("#auth-code").await;
    let hint = browser.wait_for_text("#code-hint", |t| !t.is_empty()).await;
    assert!(hint.contains("email"), "the page names the channel: {hint}");
    let code = code_in(&mail.next_mail().await.data);

    let first_digit = code.as_bytes()[0] - b'0';
    let wrong = format!("{}{}", (first_digit + 1) % 10, &code[1..]);
    browser.fill("#auth-code", &wrong).await;
    browser.click("#sign-in-button").await;
    let refused = browser.wait_for_text("#sign-in-error", |t| !t.is_empty()).await;
    assert_eq!(refused, "Invalid authentication code.");
    browser.fill("#auth-code", &code).await;
    browser.click("#sign-in-button").await;
    browser.wait_visible("#console").await;
    let who = browser.wait_for_text("#who-name", |t| !t.is_empty()).await;
    assert!(who.contains("org admin"), "{who}");
    browser.close().await;
}

#[tokio::test]
async fn the_overview_charts_storage_per_organization_and_lists_new_activity() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let created =
        app.post_form("/1/organization/create/", &admin, &[("name", "Design Studio")]).await;
    let org_id = json_with_status(created, StatusCode::CREATED).await["id"].as_i64().unwrap();
    let user = app
        .post_form(
            "/1/user/create/",
            &admin,
            &[
                ("username", "dora"),
                ("password", "dora-password"),
                ("organization_id", &org_id.to_string()),
            ],
        )
        .await;
    json_with_status(user, StatusCode::CREATED).await;
    let dora = app.token_for("dora", "dora-password").await;
    let info = json_with_status(app.get("/1/account/info", &dora, &[]).await, StatusCode::OK).await;
    let root = info["roots"][0]["id"].as_i64().unwrap();
    let upload = app
        .client
        .put(app.url(&format!("/1/files_put/{root}/plan.bin")))
        .bearer_auth(&dora)
        .body(vec![7u8; 250_000])
        .send()
        .await
        .unwrap();
    json_with_status(upload, StatusCode::CREATED).await;
    let browser = Browser::start().await;

    browser.sign_in(&app, "admin", ADMIN_PASSWORD).await;
    let chart = browser.wait_for_text("#storage-chart", |t| t.contains("Design Studio")).await;
    assert!(chart.contains("250.0 KB"), "the studio's usage is shown: {chart}");
    let bars = browser.client.find_all(Locator::Css("#storage-chart .chart-fill")).await.unwrap();
    assert_eq!(bars.len(), 2, "one bar per organization");
    let activity = browser.wait_for_text("#activity-list", |t| t.contains("file.upload")).await;
    assert!(activity.contains("by dora"), "{activity}");
    save_screenshot(&browser, "admin-overview.png").await;
    browser.close().await;
}
