//! `/1/machines/`: registration, check-in, online state, listing per role, deletion.

use chrono::Duration;
use cloudsync::domain::Role;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{TestApp, assert_error, json_with_status, spawn_app};

impl TestApp {
    /// Registers a machine with a token, returning the raw answer.
    async fn register_machine(&self, token: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.post_form("/1/machines/register/", token, form).await
    }

    /// Adds an organization below `parent_id` straight into the database.
    fn seed_organization(&self, name: &str, parent_id: i64) -> i64 {
        let conn = self.database();
        cloudsync::db::orgs::insert_organization(
            &conn,
            name,
            Some(parent_id),
            "2026-01-01T00:00:00Z",
        )
        .unwrap()
    }

    /// Moves a seeded user into another organization.
    fn move_user(&self, user_id: i64, org_id: i64) {
        self.database()
            .execute("UPDATE users SET organization_id = ?2 WHERE id = ?1", (user_id, org_id))
            .unwrap();
    }
}

fn laptop(guid: &str) -> Vec<(&'static str, String)> {
    vec![
        ("guid", guid.to_string()),
        ("name", "Laptop".to_string()),
        ("hostname", "laptop.local".to_string()),
        ("machine_type", "agent".to_string()),
        ("os_type", "linux".to_string()),
        ("os_version", "6.1".to_string()),
        ("agent_version", "1.0.0".to_string()),
    ]
}

fn as_form<'a>(fields: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    fields.iter().map(|(key, value)| (*key, value.as_str())).collect()
}

#[tokio::test]
async fn registering_twice_gives_the_same_machine() {
    let app = spawn_app().await;
    app.seed_user("ann", "ann-password", Role::User, true);
    let token = app.token_for("ann", "ann-password").await;
    let fields = laptop("guid-ann-1");

    let first = json_with_status(
        app.register_machine(&token, &as_form(&fields)).await,
        StatusCode::CREATED,
    )
    .await;
    let mut changed = fields.clone();
    changed[6].1 = "1.1.0".into();
    let second =
        json_with_status(app.register_machine(&token, &as_form(&changed)).await, StatusCode::OK)
            .await;

    assert_eq!(first["id"], second["id"]);
    for field in ["guid", "name", "hostname", "machine_type", "os_type", "os_version"] {
        assert_eq!(first[field], second[field], "{field}");
    }
    assert_eq!(first["guid"], "guid-ann-1");
    assert_eq!(first["agent_version"], "1.0.0");
    assert_eq!(second["agent_version"], "1.1.0");
    assert_eq!(first["online"], true);
    assert_eq!(first["last_ip"], "127.0.0.1");
    assert_eq!(first["backup_roots"], serde_json::json!([]));
    for field in ["user_id", "organization_id", "created", "last_seen", "status"] {
        assert!(!first[field].is_null(), "{field} present: {first}");
    }

    let actions: i64 = app
        .database()
        .query_row("SELECT COUNT(*) FROM activity WHERE action = 'machine.register'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(actions, 2);
}

#[tokio::test]
async fn a_guid_belongs_to_one_user() {
    let app = spawn_app().await;
    app.seed_user("bob", "bob-password", Role::User, true);
    let admin = app.admin_token().await;
    let bob = app.token_for("bob", "bob-password").await;
    json_with_status(
        app.register_machine(&admin, &[("guid", "shared-guid")]).await,
        StatusCode::CREATED,
    )
    .await;

    let response = app.register_machine(&bob, &[("guid", "shared-guid")]).await;
    assert_error(response, StatusCode::CONFLICT, "conflict", None).await;
}

#[tokio::test]
async fn registration_fields_are_validated() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let long = "x".repeat(300);
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![("name", "no guid")], "guid"),
        (vec![("guid", "  ")], "guid"),
        (vec![("guid", "g1"), ("machine_type", "toaster")], "machine_type"),
        (vec![("guid", "g1"), ("os_type", "beos")], "os_type"),
        (vec![("guid", "g1"), ("name", long.as_str())], "name"),
        (vec![("guid", "g1"), ("hostname", "bad\u{0}host")], "hostname"),
    ];
    for (form, field) in cases {
        let response = app.register_machine(&token, &form).await;
        let body = assert_error(response, StatusCode::BAD_REQUEST, "invalid_request", None).await;
        assert!(body["message"].as_str().unwrap().contains(field), "{field}: {body}");
    }
    // Known values are accepted in any case and stored in lower case; a missing name falls
    // back to the host name.
    let body = json_with_status(
        app.register_machine(
            &token,
            &[
                ("guid", "g2"),
                ("os_type", "Windows"),
                ("machine_type", "SERVER"),
                ("hostname", "files01"),
            ],
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(body["os_type"], "windows");
    assert_eq!(body["machine_type"], "server");
    assert_eq!(body["name"], "files01");
}

#[tokio::test]
async fn check_in_updates_the_machine_and_only_its_owner_may_do_it() {
    let app = spawn_app().await;
    app.seed_user("cid", "cid-password", Role::User, true);
    app.seed_user("dan", "dan-password", Role::User, true);
    let cid = app.token_for("cid", "cid-password").await;
    let dan = app.token_for("dan", "dan-password").await;
    let admin = app.admin_token().await;
    let machine = json_with_status(
        app.register_machine(&cid, &as_form(&laptop("cid-1"))).await,
        StatusCode::CREATED,
    )
    .await;
    let id = machine["id"].as_i64().unwrap();
    let checkin = format!("/1/machines/{id}/checkin/");

    app.advance_clock(Duration::minutes(11));
    let stale =
        json_with_status(app.get(&format!("/1/machines/{id}"), &cid, &[]).await, StatusCode::OK)
            .await;
    assert_eq!(stale["online"], false, "not seen for 11 minutes");

    let body = json_with_status(
        app.post_form(
            &checkin,
            &cid,
            &[("status", "idle\n3 files queued"), ("agent_version", "2.0")],
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(body["online"], true);
    assert_eq!(body["status"], "idle\n3 files queued");
    assert_eq!(body["agent_version"], "2.0");
    assert_ne!(body["last_seen"], machine["last_seen"]);

    let response = app.post_form(&checkin, &dan, &[("status", "hijacked")]).await;
    assert_error(response, StatusCode::NOT_FOUND, "not_found", None).await;
    let response = app.post_form(&checkin, &admin, &[("status", "hijacked")]).await;
    assert_error(response, StatusCode::NOT_FOUND, "not_found", None).await;
    let response = app.post_form("/1/machines/9999/checkin", &cid, &[]).await;
    assert_error(response, StatusCode::NOT_FOUND, "not_found", None).await;
    // An id that is not a number names no machine.
    let response = app.post_form("/1/machines/abc/checkin", &cid, &[]).await;
    assert_error(response, StatusCode::NOT_FOUND, "not_found", None).await;
}

#[tokio::test]
async fn another_users_machine_is_invisible() {
    let app = spawn_app().await;
    app.seed_user("eve", "eve-password", Role::User, true);
    app.seed_user("fay", "fay-password", Role::User, true);
    let eve = app.token_for("eve", "eve-password").await;
    let fay = app.token_for("fay", "fay-password").await;
    let machine = json_with_status(
        app.register_machine(&eve, &[("guid", "eve-1")]).await,
        StatusCode::CREATED,
    )
    .await;
    let id = machine["id"].as_i64().unwrap();

    let response = app.get(&format!("/1/machines/{id}/"), &fay, &[]).await;
    assert_error(response, StatusCode::NOT_FOUND, "not_found", None).await;
    let response = app.get(&format!("/1/machines/delete/{id}/"), &fay, &[]).await;
    assert_error(response, StatusCode::NOT_FOUND, "not_found", None).await;
    json_with_status(app.get(&format!("/1/machines/{id}/"), &eve, &[]).await, StatusCode::OK).await;
}

#[tokio::test]
async fn listings_follow_the_callers_reach() {
    let app = spawn_app().await;
    let top = 1;
    let sales = app.seed_organization("Sales", top);
    let sales_east = app.seed_organization("Sales East", sales);
    let works = app.seed_organization("Works", top);
    let seller = app.seed_user("seller", "seller-password", Role::User, true);
    let east = app.seed_user("east", "east-password", Role::User, true);
    let worker = app.seed_user("worker", "worker-password", Role::User, true);
    let boss = app.seed_user("boss", "boss-password", Role::OrgAdmin, true);
    app.move_user(seller, sales);
    app.move_user(east, sales_east);
    app.move_user(worker, works);
    app.move_user(boss, sales);
    for (name, password) in
        [("seller", "seller-password"), ("east", "east-password"), ("worker", "worker-password")]
    {
        let token = app.token_for(name, password).await;
        json_with_status(
            app.register_machine(&token, &[("guid", &format!("{name}-pc"))]).await,
            StatusCode::CREATED,
        )
        .await;
    }
    let guids = |body: &Value| -> Vec<String> {
        let mut guids: Vec<String> = body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["guid"].as_str().unwrap().to_string())
            .collect();
        guids.sort();
        guids
    };

    let seller_token = app.token_for("seller", "seller-password").await;
    let own =
        json_with_status(app.get("/1/machines/", &seller_token, &[]).await, StatusCode::OK).await;
    assert_eq!(guids(&own), ["seller-pc"]);
    assert_eq!(own["total"], 1);
    let response =
        app.get("/1/machines", &seller_token, &[("organization_id", &works.to_string())]).await;
    assert_error(response, StatusCode::FORBIDDEN, "forbidden", None).await;
    let response = app.get("/1/machines", &seller_token, &[("user_id", &worker.to_string())]).await;
    assert_error(response, StatusCode::NOT_FOUND, "not_found", None).await;

    let boss_token = app.token_for("boss", "boss-password").await;
    let reach =
        json_with_status(app.get("/1/machines", &boss_token, &[]).await, StatusCode::OK).await;
    assert_eq!(guids(&reach), ["east-pc", "seller-pc"], "own organization and the one below");
    let by_org = json_with_status(
        app.get("/1/machines", &boss_token, &[("organization_id", &sales_east.to_string())]).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(guids(&by_org), ["east-pc"]);
    let by_user = json_with_status(
        app.get("/1/machines", &boss_token, &[("user_id", &east.to_string())]).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(guids(&by_user), ["east-pc"]);
    let response =
        app.get("/1/machines", &boss_token, &[("organization_id", &works.to_string())]).await;
    assert_error(response, StatusCode::NOT_FOUND, "not_found", None).await;
    let response = app.get("/1/machines", &boss_token, &[("user_id", &worker.to_string())]).await;
    assert_error(response, StatusCode::NOT_FOUND, "not_found", None).await;

    let admin = app.admin_token().await;
    let all = json_with_status(app.get("/1/machines", &admin, &[]).await, StatusCode::OK).await;
    assert_eq!(guids(&all), ["east-pc", "seller-pc", "worker-pc"]);
    let page = json_with_status(
        app.get("/1/machines", &admin, &[("limit", "2"), ("offset", "2")]).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(page["results"].as_array().unwrap().len(), 1);
    assert_eq!(page["total"], 3);
    let response = app.get("/1/machines", &admin, &[("limit", "0")]).await;
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_request", None).await;
}

/// Creates a backup root for a machine through the API and answers its id.
async fn create_backup_root(app: &TestApp, token: &str, machine_id: i64) -> i64 {
    let response = app
        .get(
            "/1/roots/create/",
            token,
            &[
                ("name", "Backup of the laptop"),
                ("type", "backup"),
                ("machine_id", &machine_id.to_string()),
            ],
        )
        .await;
    json_with_status(response, StatusCode::CREATED).await["id"].as_i64().unwrap()
}

#[tokio::test]
async fn backup_roots_are_listed_and_kept_when_the_machine_goes() {
    let app = spawn_app().await;
    app.seed_user("gus", "gus-password", Role::User, true);
    let token = app.token_for("gus", "gus-password").await;
    let machine = json_with_status(
        app.register_machine(&token, &[("guid", "gus-pc")]).await,
        StatusCode::CREATED,
    )
    .await;
    let id = machine["id"].as_i64().unwrap();
    let root_id = create_backup_root(&app, &token, id).await;

    let body =
        json_with_status(app.get(&format!("/1/machines/{id}"), &token, &[]).await, StatusCode::OK)
            .await;
    assert_eq!(body["backup_roots"], serde_json::json!([root_id]));

    let deleted = json_with_status(
        app.get(&format!("/1/machines/delete/{id}"), &token, &[]).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(deleted["kept_backup_roots"], serde_json::json!([root_id]));
    assert_eq!(deleted["deleted_backup_roots"], serde_json::json!([]));
    let response = app.get(&format!("/1/machines/{id}"), &token, &[]).await;
    assert_error(response, StatusCode::NOT_FOUND, "not_found", None).await;
    let root = json_with_status(
        app.get(&format!("/1/roots/{root_id}"), &token, &[]).await,
        StatusCode::OK,
    )
    .await;
    assert!(root["machine_id"].is_null(), "the kept root is no longer tied: {root}");
    let logged: String = app
        .database()
        .query_row("SELECT details FROM activity WHERE action = 'machine.delete'", [], |r| r.get(0))
        .unwrap();
    assert!(logged.contains(&format!("[{root_id}]")), "{logged}");
}

#[tokio::test]
async fn deleting_a_machine_can_take_its_backups_with_it() {
    let app = spawn_app().await;
    app.seed_user("hal", "hal-password", Role::User, true);
    let token = app.token_for("hal", "hal-password").await;
    let machine = json_with_status(
        app.register_machine(&token, &[("guid", "hal-pc")]).await,
        StatusCode::CREATED,
    )
    .await;
    let id = machine["id"].as_i64().unwrap();
    let root_id = create_backup_root(&app, &token, id).await;
    let response = app
        .client
        .put(app.url(&format!("/1/files_put/{root_id}/notes.txt")))
        .bearer_auth(&token)
        .body("backed up")
        .send()
        .await
        .unwrap();
    json_with_status(response, StatusCode::CREATED).await;
    assert!(app.root_folder(root_id).join("notes.txt").is_file());

    let response = app
        .get(&format!("/1/machines/delete/{id}"), &token, &[("delete_backup_roots", "true")])
        .await;
    let deleted = json_with_status(response, StatusCode::OK).await;

    assert_eq!(deleted["deleted_backup_roots"], serde_json::json!([root_id]));
    assert_eq!(deleted["kept_backup_roots"], serde_json::json!([]));
    let response = app.get(&format!("/1/roots/{root_id}"), &token, &[]).await;
    assert_error(response, StatusCode::NOT_FOUND, "not_found", None).await;
    assert!(!app.root_folder(root_id).exists(), "the backup's folder is removed from disk");
    let response = app
        .get(&format!("/1/machines/delete/{id}"), &token, &[("delete_backup_roots", "maybe")])
        .await;
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_request", None).await;
}
