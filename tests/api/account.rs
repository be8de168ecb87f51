//! `/1/account/info/`.

use cloudsync::domain::Role;
use reqwest::StatusCode;

use crate::helpers::{assert_error, json_with_status, spawn_app};

#[tokio::test]
async fn account_info_describes_the_token_owner() {
    let app = spawn_app().await;
    let token = app.admin_token().await;

    let body =
        json_with_status(app.get("/1/account/info/", &token, &[]).await, StatusCode::OK).await;

    assert_eq!(body["success"], true);
    assert!(body["id"].as_i64().is_some());
    assert_eq!(body["username"], "admin");
    assert!(body["email"].is_null());
    assert_eq!(body["first_name"], "");
    assert_eq!(body["last_name"], "");
    assert_eq!(body["display_name"], "admin");
    assert!(body["organization_id"].as_i64().is_some());
    assert_eq!(body["role"], "system_admin");
    assert_eq!(body["two_step_mode"], "none");
    assert_eq!(body["space_used"], 0);
    assert!(body["space_quota"].is_null());
    let roots = body["roots"].as_array().unwrap();
    assert_eq!(roots.len(), 1, "the administrator has a sync root: {body}");
    let root = &roots[0];
    assert!(root["id"].as_i64().is_some());
    assert_eq!(root["type"], "sync");
    assert_eq!(root["permission"], "admin");
    assert_eq!(root["space_used"], 0);
    assert!(root["space_quota"].is_null());
    assert!(root["name"].as_str().is_some_and(|name| !name.is_empty()));
}

#[tokio::test]
async fn account_info_of_a_plain_user_shows_their_names_and_role() {
    let app = spawn_app().await;
    app.seed_user("gina", "gina-password", Role::User, true);
    let token = app.token_for("gina", "gina-password").await;

    let body =
        json_with_status(app.get("/1/account/info", &token, &[]).await, StatusCode::OK).await;

    assert_eq!(body["username"], "gina");
    assert_eq!(body["email"], "gina@example.test");
    assert_eq!(body["display_name"], "Test gina");
    assert_eq!(body["role"], "user");
}

#[tokio::test]
async fn account_info_needs_a_valid_token() {
    let app = spawn_app().await;

    let none = app.client.get(app.url("/1/account/info")).send().await.unwrap();
    assert_error(none, StatusCode::UNAUTHORIZED, "access_denied", None).await;
    let unknown = app.get("/1/account/info", "0123456789abcdef", &[]).await;
    assert_error(unknown, StatusCode::UNAUTHORIZED, "access_denied", None).await;
    let malformed = app
        .client
        .get(app.url("/1/account/info"))
        .header("Authorization", "Basic YWRtaW46YWRtaW4=")
        .send()
        .await
        .unwrap();
    assert_error(malformed, StatusCode::UNAUTHORIZED, "access_denied", None).await;
}
