//! `/1/user/...` and `/1/users/`, and the helpers the organization, activity and permission
//! tests share for making organizations and users through the API.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{TestApp, assert_error, json_with_status, spawn_app};

/// The password of users the helpers create.
pub const PASSWORD: &str = "a-good-password";

impl TestApp {
    /// Creates an organization through the API and returns its id.
    pub async fn create_org(&self, token: &str, name: &str, parent_id: Option<i64>) -> i64 {
        let parent = parent_id.map(|id| id.to_string());
        let mut form = vec![("name", name)];
        if let Some(parent) = &parent {
            form.push(("parent_id", parent));
        }
        let response = self.post_form("/1/organization/create/", token, &form).await;
        json_with_status(response, StatusCode::CREATED).await["id"].as_i64().unwrap()
    }

    /// Creates a user through the API with [`PASSWORD`] and returns the user object.
    pub async fn create_user_in(&self, token: &str, username: &str, role: &str, org: i64) -> Value {
        let org = org.to_string();
        let form = [
            ("username", username),
            ("password", PASSWORD),
            ("role", role),
            ("organization_id", &org),
            ("email", &format!("{username}@example.test")),
        ];
        let response = self.post_form("/1/user/create/", token, &form).await;
        json_with_status(response, StatusCode::CREATED).await
    }

    /// Creates a user and signs them in: (id, token).
    pub async fn user_with_token(
        &self,
        admin_token: &str,
        username: &str,
        role: &str,
        org: i64,
    ) -> (i64, String) {
        let user = self.create_user_in(admin_token, username, role, org).await;
        (user["id"].as_i64().unwrap(), self.token_for(username, PASSWORD).await)
    }

    /// The ids and names of the roots a user owns, from the database.
    pub fn roots_owned_by(&self, user_id: i64) -> Vec<(i64, String)> {
        let conn = self.database();
        let mut statement =
            conn.prepare("SELECT id, name FROM roots WHERE owner_id = ?1 ORDER BY id").unwrap();
        statement
            .query_map([user_id], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// How many activity entries with this action name this user as target.
    pub fn user_activity_count(&self, action: &str, target_user_id: i64) -> i64 {
        self.database()
            .query_row(
                "SELECT COUNT(*) FROM activity WHERE action = ?1 AND target_user_id = ?2",
                (action, target_user_id),
                |row| row.get(0),
            )
            .unwrap()
    }
}

const USER_FIELDS: [&str; 15] = [
    "id",
    "username",
    "email",
    "first_name",
    "last_name",
    "display_name",
    "organization_id",
    "role",
    "active",
    "two_step_mode",
    "mobile_phone",
    "space_used",
    "space_quota",
    "created",
    "last_login",
];

fn assert_user_object(body: &Value, extra: &[&str]) {
    let object = body.as_object().unwrap();
    for field in USER_FIELDS {
        assert!(object.contains_key(field), "missing {field}: {body}");
    }
    for key in object.keys() {
        assert!(
            USER_FIELDS.contains(&key.as_str())
                || extra.contains(&key.as_str())
                || key == "success",
            "unexpected field {key}: {body}"
        );
    }
    let text = body.to_string();
    assert!(!text.contains("$2"), "a bcrypt hash leaked: {text}");
}

#[tokio::test]
async fn an_admin_creates_a_user_with_a_sync_root_and_the_user_signs_in() {
    let app = spawn_app().await;
    let token = app.admin_token().await;

    let response = app
        .get(
            "/1/user/create/",
            &token,
            &[
                ("username", "alice"),
                ("password", PASSWORD),
                ("email", "alice@example.test"),
                ("first_name", "Alice"),
                ("last_name", "Liddell"),
            ],
        )
        .await;
    let body = json_with_status(response, StatusCode::CREATED).await;

    assert_eq!(body["success"], true);
    assert_user_object(&body, &[]);
    assert_eq!(body["username"], "alice");
    assert_eq!(body["display_name"], "Alice Liddell");
    assert_eq!(body["organization_id"], 1, "defaults to the caller's organization");
    assert_eq!(body["role"], "user");
    assert_eq!(body["active"], true);
    assert_eq!(body["two_step_mode"], "none");
    assert!(body["space_quota"].is_null());
    assert!(body["last_login"].is_null());
    let id = body["id"].as_i64().unwrap();
    let roots = app.roots_owned_by(id);
    assert_eq!(roots.len(), 1);
    assert_eq!(roots[0].1, "Sync");
    assert!(app.root_folder(roots[0].0).is_dir(), "the root's folder exists on disk");
    assert_eq!(app.user_activity_count("user.create", id), 1);

    app.token_for("alice", PASSWORD).await;
    let read =
        json_with_status(app.get(&format!("/1/user/{id}/"), &token, &[]).await, StatusCode::OK)
            .await;
    assert!(read["last_login"].is_string());
}

#[tokio::test]
async fn a_generated_password_is_returned_once_and_works() {
    let app = spawn_app().await;
    let token = app.admin_token().await;

    let response = app
        .post_form(
            "/1/user/create",
            &token,
            &[("username", "bob"), ("generate_password", "true"), ("create_root", "false")],
        )
        .await;
    let body = json_with_status(response, StatusCode::CREATED).await;

    assert_user_object(&body, &["password"]);
    let password = body["password"].as_str().unwrap();
    assert!(password.len() >= 16);
    app.token_for("bob", password).await;
    let id = body["id"].as_i64().unwrap();
    assert!(app.roots_owned_by(id).is_empty(), "create_root=false makes no root");
    let read =
        json_with_status(app.get(&format!("/1/user/{id}"), &token, &[]).await, StatusCode::OK)
            .await;
    assert!(read.get("password").is_none(), "shown only once: {read}");
}

#[tokio::test]
async fn user_creation_checks_its_input() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    app.create_user_in(&token, "taken", "user", 1).await;
    type Case<'a> = (&'a [(&'a str, &'a str)], StatusCode, &'a str);
    let cases: &[Case<'_>] = &[
        (&[("password", PASSWORD)], StatusCode::BAD_REQUEST, "username"),
        (&[("username", "x")], StatusCode::BAD_REQUEST, "password"),
        (&[("username", "x"), ("password", "short")], StatusCode::BAD_REQUEST, "8 characters"),
        (
            &[("username", "x"), ("password", PASSWORD), ("generate_password", "true")],
            StatusCode::BAD_REQUEST,
            "not both",
        ),
        (&[("username", "TAKEN"), ("password", PASSWORD)], StatusCode::CONFLICT, "taken"),
        (
            &[("username", "y"), ("password", PASSWORD), ("email", "taken@example.test")],
            StatusCode::CONFLICT,
            "email",
        ),
        (&[("username", "a b"), ("password", PASSWORD)], StatusCode::BAD_REQUEST, "username"),
        (&[("username", "a@b"), ("password", PASSWORD)], StatusCode::BAD_REQUEST, "username"),
        (
            &[("username", "x"), ("password", PASSWORD), ("role", "king")],
            StatusCode::BAD_REQUEST,
            "role",
        ),
        (
            &[("username", "x"), ("password", PASSWORD), ("two_step_mode", "pigeon")],
            StatusCode::BAD_REQUEST,
            "two_step_mode",
        ),
        (
            &[("username", "x"), ("password", PASSWORD), ("two_step_mode", "sms")],
            StatusCode::BAD_REQUEST,
            "mobile_phone",
        ),
        (
            &[("username", "x"), ("password", PASSWORD), ("two_step_mode", "email")],
            StatusCode::BAD_REQUEST,
            "email",
        ),
        (
            &[("username", "x"), ("password", PASSWORD), ("mobile_phone", "call me")],
            StatusCode::BAD_REQUEST,
            "mobile_phone",
        ),
        (
            &[("username", "x"), ("password", PASSWORD), ("email", "not-an-address")],
            StatusCode::BAD_REQUEST,
            "email",
        ),
        (
            &[("username", "x"), ("password", PASSWORD), ("space_quota", "-1")],
            StatusCode::BAD_REQUEST,
            "space_quota",
        ),
        (
            &[("username", "x"), ("password", PASSWORD), ("organization_id", "999")],
            StatusCode::NOT_FOUND,
            "Organization",
        ),
    ];
    for (form, status, needle) in cases {
        let response = app.post_form("/1/user/create", &token, form).await;
        let code = match *status {
            StatusCode::BAD_REQUEST => "invalid_request",
            StatusCode::CONFLICT => "conflict",
            _ => "not_found",
        };
        let body = assert_error(response, *status, code, None).await;
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(needle), "{form:?}: {message}");
    }
}

#[tokio::test]
async fn new_users_get_the_default_quota_and_their_two_step_mode() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let policy =
        app.post_form("/1/policies/update", &token, &[("default_user_quota", "5000")]).await;
    json_with_status(policy, StatusCode::OK).await;

    let form = [
        ("username", "carol"),
        ("password", PASSWORD),
        ("two_step_mode", "sms"),
        ("mobile_phone", "+41 79 123 45 67"),
    ];
    let carol =
        json_with_status(app.post_form("/1/user/create", &token, &form).await, StatusCode::CREATED)
            .await;
    assert_eq!(carol["space_quota"], 5000);
    assert_eq!(carol["two_step_mode"], "sms");
    assert_eq!(carol["mobile_phone"], "+41 79 123 45 67");

    let form = [("username", "dave"), ("password", PASSWORD), ("space_quota", "")];
    let dave =
        json_with_status(app.post_form("/1/user/create", &token, &form).await, StatusCode::CREATED)
            .await;
    assert!(dave["space_quota"].is_null(), "an empty quota means unlimited");

    let form = [("username", "erin"), ("password", PASSWORD), ("two_step_mode", "authenticator")];
    let erin =
        json_with_status(app.post_form("/1/user/create", &token, &form).await, StatusCode::CREATED)
            .await;
    assert_eq!(erin["two_step_mode"], "authenticator");
}

#[tokio::test]
async fn users_change_their_own_password_only_with_the_current_one() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (id, token) = app.user_with_token(&admin, "frank", "user", 1).await;
    let other_session = app.token_for("frank", PASSWORD).await;
    let path = format!("/1/user/update/{id}/");

    let missing = app.post_form(&path, &token, &[("password", "a-new-password")]).await;
    assert_error(missing, StatusCode::BAD_REQUEST, "invalid_request", None).await;
    let wrong = app
        .post_form(&path, &token, &[("password", "a-new-password"), ("current_password", "nope")])
        .await;
    assert_error(wrong, StatusCode::FORBIDDEN, "forbidden", None).await;
    let short = app
        .post_form(&path, &token, &[("password", "short"), ("current_password", PASSWORD)])
        .await;
    assert_error(short, StatusCode::BAD_REQUEST, "invalid_request", None).await;

    let changed = app
        .post_form(&path, &token, &[("password", "a-new-password"), ("current_password", PASSWORD)])
        .await;
    json_with_status(changed, StatusCode::OK).await;

    let me = app.get("/1/account/info", &token, &[]).await;
    assert_eq!(me.status(), StatusCode::OK, "the session that changed it stays");
    let other = app.get("/1/account/info", &other_session, &[]).await;
    assert_eq!(other.status(), StatusCode::UNAUTHORIZED, "other sessions end");
    assert_eq!(app.sign_in("frank", PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
    app.token_for("frank", "a-new-password").await;

    // An administrator resets it without the current password; all sessions end.
    let reset = app.post_form(&path, &admin, &[("generate_password", "true")]).await;
    let body = json_with_status(reset, StatusCode::OK).await;
    let generated = body["password"].as_str().unwrap().to_string();
    assert_eq!(app.get("/1/account/info", &token, &[]).await.status(), StatusCode::UNAUTHORIZED);
    app.token_for("frank", &generated).await;
}

#[tokio::test]
async fn suspending_a_user_revokes_their_tokens_at_once() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (id, token) = app.user_with_token(&admin, "gina", "user", 1).await;
    assert_eq!(app.get("/1/account/info", &token, &[]).await.status(), StatusCode::OK);

    let response =
        app.post_form(&format!("/1/user/update/{id}"), &admin, &[("active", "false")]).await;
    let body = json_with_status(response, StatusCode::OK).await;

    assert_eq!(body["active"], false);
    assert_eq!(app.get("/1/account/info", &token, &[]).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.sign_in("gina", PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
    let details: String = app
        .database()
        .query_row(
            "SELECT details FROM activity WHERE action = 'user.update' AND target_user_id = ?1",
            [id],
            |row| row.get(0),
        )
        .unwrap();
    let details: Value = serde_json::from_str(&details).unwrap();
    assert_eq!(details["active"]["to"], false);

    let back = app.post_form(&format!("/1/user/update/{id}"), &admin, &[("active", "true")]).await;
    json_with_status(back, StatusCode::OK).await;
    app.token_for("gina", PASSWORD).await;
}

#[tokio::test]
async fn users_update_their_profile_but_not_their_role_quota_organization_or_flag() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (id, token) = app.user_with_token(&admin, "hank", "user", 1).await;
    let path = format!("/1/user/update/{id}");

    let response = app
        .post_form(
            &path,
            &token,
            &[("first_name", "Hank"), ("last_name", "Hill"), ("email", "hank@hill.test")],
        )
        .await;
    let body = json_with_status(response, StatusCode::OK).await;
    assert_eq!(body["display_name"], "Hank Hill");
    assert_eq!(body["email"], "hank@hill.test");

    let elsewhere = app.create_org(&admin, "Elsewhere", None).await.to_string();
    for form in [
        [("role", "org_admin")],
        [("space_quota", "1")],
        [("organization_id", elsewhere.as_str())],
        [("active", "false")],
    ] {
        let response = app.post_form(&path, &token, &form).await;
        assert_error(response, StatusCode::FORBIDDEN, "forbidden", None).await;
    }
    // Sending the values they already have changes nothing and is fine.
    let same = app.post_form(&path, &token, &[("role", "user"), ("active", "true")]).await;
    json_with_status(same, StatusCode::OK).await;

    // sms mode needs a phone; clearing the email of an email-mode user is refused.
    let sms = app.post_form(&path, &token, &[("two_step_mode", "sms")]).await;
    assert_error(sms, StatusCode::BAD_REQUEST, "invalid_request", None).await;
    let email_mode = app.post_form(&path, &token, &[("two_step_mode", "email")]).await;
    assert_eq!(json_with_status(email_mode, StatusCode::OK).await["two_step_mode"], "email");
    let clear = app.post_form(&path, &token, &[("email", "")]).await;
    assert_error(clear, StatusCode::BAD_REQUEST, "invalid_request", None).await;
    let duplicate = app.post_form(&path, &admin, &[("username", "admin")]).await;
    assert_error(duplicate, StatusCode::CONFLICT, "conflict", None).await;
}

#[tokio::test]
async fn a_user_moved_to_another_organization_takes_their_sync_root_along() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let org = app.create_org(&admin, "Branch", None).await;
    let id = app.create_user_in(&admin, "mover", "user", 1).await["id"].as_i64().unwrap();
    let root_id = app.roots_owned_by(id)[0].0;

    let response = app
        .post_form(
            &format!("/1/user/update/{id}"),
            &admin,
            &[("organization_id", &org.to_string())],
        )
        .await;
    let body = json_with_status(response, StatusCode::OK).await;

    assert_eq!(body["organization_id"], org);
    let root_org: i64 = app
        .database()
        .query_row("SELECT organization_id FROM roots WHERE id = ?1", [root_id], |row| row.get(0))
        .unwrap();
    assert_eq!(root_org, org);
    let missing =
        app.post_form(&format!("/1/user/update/{id}"), &admin, &[("organization_id", "999")]).await;
    assert_error(missing, StatusCode::NOT_FOUND, "not_found", None).await;
}

#[tokio::test]
async fn deleting_a_user_removes_their_roots_and_folders() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (id, token) = app.user_with_token(&admin, "ivan", "user", 1).await;
    let (root_id, _) = app.roots_owned_by(id)[0].clone();
    let folder = app.root_folder(root_id);
    std::fs::write(folder.join("notes.txt"), b"bytes").unwrap();

    let response = app.get(&format!("/1/user/delete/{id}/"), &admin, &[]).await;
    json_with_status(response, StatusCode::OK).await;

    assert!(!folder.exists(), "the root's folder is removed");
    assert!(app.roots_owned_by(id).is_empty());
    assert_eq!(app.get("/1/account/info", &token, &[]).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.user_activity_count("user.delete", id), 1);
    let again = app.get(&format!("/1/user/delete/{id}/"), &admin, &[]).await;
    assert_error(again, StatusCode::NOT_FOUND, "not_found", None).await;
}

#[tokio::test]
async fn deleting_a_user_whose_folder_is_already_gone_succeeds() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let user = app.create_user_in(&admin, "jill", "user", 1).await;
    let id = user["id"].as_i64().unwrap();
    std::fs::remove_dir_all(app.root_folder(app.roots_owned_by(id)[0].0)).unwrap();

    let response = app.get(&format!("/1/user/delete/{id}"), &admin, &[]).await;

    json_with_status(response, StatusCode::OK).await;
}

#[tokio::test]
async fn deleting_a_user_with_transfer_to_hands_their_roots_over() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let org = app.create_org(&admin, "Sales", None).await;
    let leaver = app.create_user_in(&admin, "kim", "user", 1).await["id"].as_i64().unwrap();
    let heir = app.create_user_in(&admin, "lee", "user", org).await["id"].as_i64().unwrap();
    let (root_id, _) = app.roots_owned_by(leaver)[0].clone();
    std::fs::write(app.root_folder(root_id).join("keep.txt"), b"keep").unwrap();

    let bad = app.get(&format!("/1/user/delete/{leaver}"), &admin, &[("transfer_to", "999")]).await;
    assert_error(bad, StatusCode::NOT_FOUND, "not_found", None).await;
    let own = leaver.to_string();
    let selfish =
        app.get(&format!("/1/user/delete/{leaver}"), &admin, &[("transfer_to", &own)]).await;
    assert_error(selfish, StatusCode::BAD_REQUEST, "invalid_request", None).await;

    let heir_text = heir.to_string();
    let response =
        app.get(&format!("/1/user/delete/{leaver}"), &admin, &[("transfer_to", &heir_text)]).await;
    json_with_status(response, StatusCode::OK).await;

    let heir_roots = app.roots_owned_by(heir);
    assert!(heir_roots.iter().any(|(id, _)| *id == root_id), "{heir_roots:?}");
    assert!(app.root_folder(root_id).join("keep.txt").is_file(), "the files stay");
    let root_org: i64 = app
        .database()
        .query_row("SELECT organization_id FROM roots WHERE id = ?1", [root_id], |row| row.get(0))
        .unwrap();
    assert_eq!(root_org, org, "the root moves to the new owner's organization");
}

#[tokio::test]
async fn users_list_filters_and_pages() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let org = app.create_org(&admin, "Lab", None).await;
    for name in ["ann", "ben", "cat", "dan"] {
        app.create_user_in(&admin, name, "user", org).await;
    }
    app.create_user_in(&admin, "benedict", "user", 1).await;
    let org_text = org.to_string();

    let all = json_with_status(app.get("/1/users", &admin, &[]).await, StatusCode::OK).await;
    assert_eq!(all["total"], 6, "admin plus five");
    let in_org = json_with_status(
        app.get("/1/users", &admin, &[("organization_id", &org_text)]).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(in_org["total"], 4);
    let names: Vec<&str> = in_org["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["dan", "cat", "ben", "ann"], "newest first");
    assert_user_object(&in_org["results"][0], &[]);

    let query =
        json_with_status(app.get("/1/users", &admin, &[("query", "BEN")]).await, StatusCode::OK)
            .await;
    assert_eq!(query["total"], 2, "user name match without regard to case: {query}");
    let by_email = json_with_status(
        app.get("/1/users", &admin, &[("query", "cat@example")]).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(by_email["total"], 1);
    let wildcard =
        json_with_status(app.get("/1/users", &admin, &[("query", "%")]).await, StatusCode::OK)
            .await;
    assert_eq!(wildcard["total"], 0, "% is a character, not a wildcard");

    let page = app
        .get("/1/users", &admin, &[("organization_id", &org_text), ("offset", "1"), ("limit", "2")])
        .await;
    let page = json_with_status(page, StatusCode::OK).await;
    assert_eq!(page["total"], 4);
    let names: Vec<&str> = page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["cat", "ben"]);

    for (name, value) in [("limit", "0"), ("limit", "1001"), ("offset", "-1"), ("limit", "ten")] {
        let response = app.get("/1/users", &admin, &[(name, value)]).await;
        let body = assert_error(response, StatusCode::BAD_REQUEST, "invalid_request", None).await;
        assert!(body["message"].as_str().unwrap().contains(name));
    }
    let missing = app.get("/1/users", &admin, &[("organization_id", "999")]).await;
    assert_error(missing, StatusCode::NOT_FOUND, "not_found", None).await;
}

#[tokio::test]
async fn reading_a_missing_or_malformed_user_id_answers_404() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for path in ["/1/user/999", "/1/user/abc", "/1/user/update/abc", "/1/user/delete/999"] {
        let response = app.get(path, &admin, &[]).await;
        assert_error(response, StatusCode::NOT_FOUND, "not_found", None).await;
    }
    let own = app.get("/1/user/delete/1", &admin, &[]).await;
    assert_error(own, StatusCode::FORBIDDEN, "forbidden", None).await;
}
