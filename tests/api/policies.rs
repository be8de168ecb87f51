//! `/1/policies/` and `/1/policies/update/`.

use cloudsync::domain::Role;
use reqwest::StatusCode;

use crate::helpers::{assert_error, json_with_status, spawn_app};

#[tokio::test]
async fn policies_start_at_their_defaults() {
    let app = spawn_app().await;
    let token = app.admin_token().await;

    let body = json_with_status(app.get("/1/policies/", &token, &[]).await, StatusCode::OK).await;

    assert_eq!(body["success"], true);
    assert_eq!(body["api_token_hours"], 720);
    assert_eq!(body["require_two_step"], false);
    assert_eq!(body["password_min_length"], 8);
    assert_eq!(body["max_failed_logins"], 5);
    assert_eq!(body["lockout_minutes"], 15);
    assert_eq!(body["share_links_enabled"], true);
    assert_eq!(body["share_link_max_days"], 0);
    assert!(body["default_user_quota"].is_null());
}

#[tokio::test]
async fn a_system_admin_changes_policies_and_the_change_is_logged() {
    let app = spawn_app().await;
    let token = app.admin_token().await;

    let response = app
        .get(
            "/1/policies/update/",
            &token,
            &[
                ("api_token_hours", "48"),
                ("share_links_enabled", "false"),
                ("default_user_quota", "1073741824"),
            ],
        )
        .await;
    let body = json_with_status(response, StatusCode::OK).await;
    assert_eq!(body["api_token_hours"], 48);
    assert_eq!(body["share_links_enabled"], false);
    assert_eq!(body["default_user_quota"], 1_073_741_824_i64);
    assert_eq!(body["max_failed_logins"], 5, "untouched fields stay");

    let read = json_with_status(app.get("/1/policies", &token, &[]).await, StatusCode::OK).await;
    assert_eq!(read["api_token_hours"], 48);

    let cleared = app.post_form("/1/policies/update", &token, &[("default_user_quota", "")]).await;
    assert!(json_with_status(cleared, StatusCode::OK).await["default_user_quota"].is_null());

    let details: String = app
        .database()
        .query_row(
            "SELECT details FROM activity WHERE action = 'policy.update' ORDER BY id LIMIT 1",
            [],
            |row| row.get(0),
        )
        .unwrap();
    let details: serde_json::Value = serde_json::from_str(&details).unwrap();
    assert_eq!(details["api_token_hours"]["from"], 720);
    assert_eq!(details["api_token_hours"]["to"], 48);
}

#[tokio::test]
async fn invalid_policy_values_answer_400_naming_the_field() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let cases = [
        ("api_token_hours", "0"),
        ("api_token_hours", "87601"),
        ("api_token_hours", "abc"),
        ("api_token_hours", "1.5"),
        ("max_failed_logins", "0"),
        ("lockout_minutes", "-5"),
        ("password_min_length", "0"),
        ("share_link_max_days", "-1"),
        ("require_two_step", "maybe"),
        ("default_user_quota", "-1"),
    ];
    for (field, value) in cases {
        let response = app.post_form("/1/policies/update", &token, &[(field, value)]).await;
        let body = assert_error(response, StatusCode::BAD_REQUEST, "invalid_request", None).await;
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(field), "{field}={value}: {message}");
    }
    let body = json_with_status(app.get("/1/policies", &token, &[]).await, StatusCode::OK).await;
    assert_eq!(body["api_token_hours"], 720, "nothing changed");

    for (field, value) in [("api_token_hours", "1"), ("api_token_hours", "87600")] {
        let response = app.post_form("/1/policies/update", &token, &[(field, value)]).await;
        json_with_status(response, StatusCode::OK).await;
    }
}

#[tokio::test]
async fn only_admins_read_and_only_system_admins_change_policies() {
    let app = spawn_app().await;
    app.seed_user("uma", "uma-password", Role::User, true);
    app.seed_user("otto", "otto-password", Role::OrgAdmin, true);
    let user = app.token_for("uma", "uma-password").await;
    let org_admin = app.token_for("otto", "otto-password").await;

    let response = app.get("/1/policies", &user, &[]).await;
    assert_error(response, StatusCode::FORBIDDEN, "forbidden", None).await;
    let response = app.get("/1/policies/update", &user, &[("api_token_hours", "1")]).await;
    assert_error(response, StatusCode::FORBIDDEN, "forbidden", None).await;

    json_with_status(app.get("/1/policies", &org_admin, &[]).await, StatusCode::OK).await;
    let response = app.get("/1/policies/update", &org_admin, &[("api_token_hours", "1")]).await;
    assert_error(response, StatusCode::FORBIDDEN, "forbidden", None).await;

    let response = app.client.get(app.url("/1/policies")).send().await.unwrap();
    assert_error(response, StatusCode::UNAUTHORIZED, "access_denied", None).await;
}
