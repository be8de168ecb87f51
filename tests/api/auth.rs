//! Sign-in, lockout, session tokens, sign-out and expiry.

use chrono::Duration;
use cloudsync::domain::Role;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{ADMIN_PASSWORD, assert_error, json_with_status, spawn_app};

const INVALID: &str = "Invalid username or password.";
const MISSING: &str = "You must provide a username and password.";
const LOCKED: &str = "Account temporarily locked due to repeated failed login attempts.";

#[tokio::test]
async fn sign_in_returns_a_fresh_long_token_and_its_expiry() {
    let app = spawn_app().await;

    let first = json_with_status(app.sign_in("admin", ADMIN_PASSWORD).await, StatusCode::OK).await;
    let second = json_with_status(app.sign_in("admin", ADMIN_PASSWORD).await, StatusCode::OK).await;

    assert_eq!(first["success"], true);
    let token = first["session_token"].as_str().unwrap();
    assert!(token.len() >= 32, "a token carries at least 128 bits: {token}");
    assert_ne!(first["session_token"], second["session_token"], "one token per sign-in");
    let expires = cloudsync::clock::parse_time(first["expires"].as_str().unwrap()).unwrap();
    let expected = app.clock.now() + Duration::hours(720);
    assert!((expires - expected).num_seconds().abs() < 60, "expires after 720 hours");
    assert!(first["expires"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn sign_in_accepts_an_email_address_and_any_case_of_the_name() {
    let app = spawn_app().await;
    app.seed_user("carol", "carol-password", Role::User, true);

    app.token_for("carol@example.test", "carol-password").await;
    app.token_for("CAROL", "carol-password").await;
}

#[tokio::test]
async fn sign_in_parameters_may_come_as_multipart() {
    let app = spawn_app().await;
    let form =
        reqwest::multipart::Form::new().text("username", "admin").text("password", ADMIN_PASSWORD);

    let response = app.client.post(app.url("/1/auth")).multipart(form).send().await.unwrap();

    let body = json_with_status(response, StatusCode::OK).await;
    assert!(body["session_token"].is_string());
}

#[tokio::test]
async fn missing_or_empty_credentials_answer_400_with_the_fixed_message() {
    let app = spawn_app().await;
    let cases: [&[(&str, &str)]; 5] = [
        &[],
        &[("username", "admin")],
        &[("password", ADMIN_PASSWORD)],
        &[("username", ""), ("password", ADMIN_PASSWORD)],
        &[("username", "admin"), ("password", "")],
    ];
    for form in cases {
        let response = app.client.post(app.url("/1/auth/")).form(form).send().await.unwrap();
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_request", Some(MISSING)).await;
    }
}

#[tokio::test]
async fn wrong_password_unknown_user_and_suspended_user_get_the_same_answer() {
    let app = spawn_app().await;
    app.seed_user("suspended", "suspended-password", Role::User, false);

    let wrong = app.sign_in("admin", "not the password").await;
    let unknown = app.sign_in("nobody", "whatever-password").await;
    let suspended = app.sign_in("suspended", "suspended-password").await;

    let wrong = assert_error(wrong, StatusCode::UNAUTHORIZED, "access_denied", Some(INVALID)).await;
    let unknown =
        assert_error(unknown, StatusCode::UNAUTHORIZED, "access_denied", Some(INVALID)).await;
    let suspended =
        assert_error(suspended, StatusCode::UNAUTHORIZED, "access_denied", Some(INVALID)).await;
    assert_eq!(wrong, unknown);
    assert_eq!(wrong, suspended);
}

#[tokio::test]
async fn sign_in_by_get_or_put_answers_405() {
    let app = spawn_app().await;
    for method in [Method::GET, Method::PUT, Method::DELETE] {
        let response = app
            .raw(method.clone(), &format!("/1/auth/?username=admin&password={ADMIN_PASSWORD}"))
            .await;
        assert_eq!(response.headers()["allow"], "POST");
        assert_error(response, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", None).await;
    }
}

#[tokio::test]
async fn repeated_failures_lock_the_user_name_for_the_lockout_period() {
    let app = spawn_app().await;
    app.seed_user("dave", "dave-password", Role::User, true);

    for attempt in 1..=5 {
        let response = app.sign_in("admin", "wrong").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "attempt {attempt}");
    }
    let locked = app.sign_in("admin", ADMIN_PASSWORD).await;
    let retry_after: i64 = locked.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((14 * 60..=15 * 60).contains(&retry_after), "Retry-After {retry_after}");
    assert_error(locked, StatusCode::TOO_MANY_REQUESTS, "too_many_requests", Some(LOCKED)).await;

    // Another user name from the same address is not locked.
    app.token_for("dave", "dave-password").await;

    app.advance_clock(Duration::minutes(15) + Duration::seconds(1));
    app.token_for("admin", ADMIN_PASSWORD).await;
}

#[tokio::test]
async fn failures_outside_the_window_do_not_add_up() {
    let app = spawn_app().await;
    for _ in 0..4 {
        app.sign_in("admin", "wrong").await;
    }
    app.advance_clock(Duration::minutes(16));
    for _ in 0..4 {
        app.sign_in("admin", "wrong").await;
    }
    app.token_for("admin", ADMIN_PASSWORD).await;
}

#[tokio::test]
async fn a_sweep_across_many_user_names_locks_the_address() {
    let app = spawn_app().await;
    app.seed_user("erin", "erin-password", Role::User, true);

    // Four times the per-name limit, spread over names that are never locked themselves.
    for attempt in 0..20 {
        let response = app.sign_in(&format!("guess{attempt}"), "wrong").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "attempt {attempt}");
    }
    let response = app.sign_in("erin", "erin-password").await;
    assert_error(response, StatusCode::TOO_MANY_REQUESTS, "too_many_requests", Some(LOCKED)).await;
}

#[tokio::test]
async fn the_token_works_as_query_parameter_form_field_and_bearer_header() {
    let app = spawn_app().await;
    let token = app.admin_token().await;

    let by_query = app
        .client
        .get(app.url("/1/account/info/"))
        .query(&[("session_token", &token)])
        .send()
        .await
        .unwrap();
    let by_form = app
        .client
        .post(app.url("/1/account/info"))
        .form(&[("session_token", &token)])
        .send()
        .await
        .unwrap();
    let by_header = app.get("/1/account/info", &token, &[]).await;

    for response in [by_query, by_form, by_header] {
        let body = json_with_status(response, StatusCode::OK).await;
        assert_eq!(body["username"], "admin");
    }
}

#[tokio::test]
async fn logout_revokes_only_the_presented_token() {
    let app = spawn_app().await;
    let revoked = app.admin_token().await;
    let kept = app.admin_token().await;

    let response = app.post_form("/1/auth/logout/", &revoked, &[]).await;
    let body = json_with_status(response, StatusCode::OK).await;
    assert_eq!(body["success"], true);

    let response = app.get("/1/account/info", &revoked, &[]).await;
    assert_error(response, StatusCode::UNAUTHORIZED, "access_denied", None).await;
    let response = app.post_form("/1/auth/logout", &revoked, &[]).await;
    assert_error(response, StatusCode::UNAUTHORIZED, "access_denied", None).await;
    json_with_status(app.get("/1/account/info", &kept, &[]).await, StatusCode::OK).await;
}

#[tokio::test]
async fn tokens_expire_after_the_policy_hours_counted_from_sign_in() {
    let app = spawn_app().await;
    let token = app.admin_token().await;

    app.advance_clock(Duration::hours(719));
    json_with_status(app.get("/1/account/info", &token, &[]).await, StatusCode::OK).await;

    app.advance_clock(Duration::hours(1));
    let response = app.get("/1/account/info", &token, &[]).await;
    assert_error(response, StatusCode::UNAUTHORIZED, "access_denied", None).await;
}

#[tokio::test]
async fn shortening_the_token_lifetime_applies_to_tokens_already_issued() {
    let app = spawn_app().await;
    let old_token = app.admin_token().await;
    app.advance_clock(Duration::hours(3));
    let admin = app.admin_token().await;

    let response = app.post_form("/1/policies/update", &admin, &[("api_token_hours", "2")]).await;
    json_with_status(response, StatusCode::OK).await;

    let response = app.get("/1/account/info", &old_token, &[]).await;
    assert_error(response, StatusCode::UNAUTHORIZED, "access_denied", None).await;
    json_with_status(app.get("/1/account/info", &admin, &[]).await, StatusCode::OK).await;
    app.advance_clock(Duration::hours(2));
    let response = app.get("/1/account/info", &admin, &[]).await;
    assert_error(response, StatusCode::UNAUTHORIZED, "access_denied", None).await;
}

#[tokio::test]
async fn a_suspended_users_tokens_stop_working() {
    let app = spawn_app().await;
    let id = app.seed_user("frank", "frank-password", Role::User, true);
    let token = app.token_for("frank", "frank-password").await;

    app.database().execute("UPDATE users SET active = 0 WHERE id = ?1", [id]).unwrap();

    let response = app.get("/1/account/info", &token, &[]).await;
    assert_error(response, StatusCode::UNAUTHORIZED, "access_denied", None).await;
}

#[tokio::test]
async fn tokens_and_passwords_are_stored_only_as_hashes() {
    let app = spawn_app().await;
    let token = app.admin_token().await;

    let conn = app.database();
    let stored: Vec<String> = conn
        .prepare("SELECT token_hash FROM sessions")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0], token);
    let password_hash: String = conn
        .query_row("SELECT password_hash FROM users WHERE username = 'admin'", [], |r| r.get(0))
        .unwrap();
    assert!(password_hash.starts_with("$2"), "bcrypt hash: {password_hash}");
    drop(conn);

    // No byte of the database files holds the token or the password in the clear.
    for entry in std::fs::read_dir(app.data_dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            for secret in [token.as_bytes(), ADMIN_PASSWORD.as_bytes()] {
                assert!(
                    !bytes.windows(secret.len()).any(|window| window == secret),
                    "{} holds a secret in the clear",
                    path.display()
                );
            }
        }
    }
}

#[tokio::test]
async fn sign_ins_and_failures_are_written_to_the_activity_log() {
    let app = spawn_app().await;
    app.admin_token().await;
    app.sign_in("admin", "wrong").await;
    app.sign_in("ghost", "wrong").await;

    let conn = app.database();
    let entries: Vec<(String, Option<String>, Value)> = conn
        .prepare("SELECT action, actor_username, details FROM activity WHERE action LIKE 'auth.%' ORDER BY id")
        .unwrap()
        .query_map([], |row| {
            let details: String = row.get(2)?;
            Ok((row.get(0)?, row.get(1)?, serde_json::from_str(&details).unwrap()))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let actions: Vec<&str> = entries.iter().map(|(action, ..)| action.as_str()).collect();
    assert_eq!(actions, ["auth.login", "auth.failed", "auth.failed"]);
    assert_eq!(entries[1].2["reason"], "wrong password");
    assert_eq!(entries[2].1.as_deref(), Some("ghost"));
    assert_eq!(entries[2].2["reason"], "unknown user");
}
