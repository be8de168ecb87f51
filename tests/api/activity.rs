//! `/1/activity/...`: scopes, filters, paging, custom entries and downloads.

use reqwest::StatusCode;
use reqwest::header::{CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE};
use serde_json::Value;

use crate::helpers::{TestApp, assert_error, json_with_status, spawn_app};

impl TestApp {
    /// Writes a custom entry through the API and returns it.
    async fn custom_entry(&self, token: &str, form: &[(&str, &str)]) -> Value {
        let response = self.post_form("/1/activity/create/", token, form).await;
        json_with_status(response, StatusCode::CREATED).await
    }

    /// Reads a scope as JSON and returns the body.
    async fn activity(&self, path: &str, token: &str, query: &[(&str, &str)]) -> Value {
        json_with_status(self.get(path, token, query).await, StatusCode::OK).await
    }
}

fn actions(body: &Value) -> Vec<String> {
    body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["action"].as_str().unwrap().to_string())
        .collect()
}

/// Splits RFC 4180 CSV text into records of fields.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, other) => field.push(other),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, other) => field.push(other),
        }
    }
    assert!(field.is_empty() && record.is_empty(), "the text ends in the middle of a record");
    records
}

#[tokio::test]
async fn custom_entries_are_filtered_and_paged_newest_first() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let alice = app.create_user_in(&admin, "alice", "user", 1).await["id"].as_i64().unwrap();
    let alice_text = alice.to_string();

    let first = app.custom_entry(&admin, &[("action", "custom.a")]).await;
    app.custom_entry(&admin, &[("action", "custom.b"), ("details", r#"{"n": 2}"#)]).await;
    app.advance_clock(chrono::Duration::days(1));
    let third =
        app.custom_entry(&admin, &[("action", "custom.a"), ("target_user_id", &alice_text)]).await;
    app.advance_clock(chrono::Duration::days(1));
    app.custom_entry(&admin, &[("action", "custom.c.x")]).await;

    assert_eq!(first["actor_username"], "admin");
    assert_eq!(third["target_user_id"], alice);
    let all = app.activity("/1/activity/all", &admin, &[("action", "custom.*")]).await;
    assert_eq!(all["total"], 4);
    assert_eq!(actions(&all), ["custom.c.x", "custom.a", "custom.b", "custom.a"]);
    let entry = &all["results"][2];
    assert_eq!(entry["details"]["n"], 2, "details come back as an object");
    for field in [
        "id",
        "created",
        "action",
        "actor_id",
        "actor_username",
        "organization_id",
        "root_id",
        "path",
        "target_user_id",
        "target_organization_id",
        "machine_id",
        "ip",
        "details",
    ] {
        assert!(entry.get(field).is_some(), "missing {field}: {entry}");
    }

    let day_one = &first["created"].as_str().unwrap()[..10];
    let day_two = &third["created"].as_str().unwrap()[..10];
    let third_time = third["created"].as_str().unwrap();
    type Case<'a> = (Vec<(&'a str, &'a str)>, Vec<&'a str>);
    let cases: Vec<Case<'_>> = vec![
        (vec![("action", "custom.a")], vec!["custom.a", "custom.a"]),
        (vec![("action", "custom.b, custom.c.*")], vec!["custom.c.x", "custom.b"]),
        (vec![("action", "custom.*"), ("since", day_two)], vec!["custom.c.x", "custom.a"]),
        (vec![("action", "custom.*"), ("until", day_one)], vec!["custom.b", "custom.a"]),
        (vec![("action", "custom.*"), ("since", day_two), ("until", day_two)], vec!["custom.a"]),
        (
            vec![("action", "custom.*"), ("since", third_time), ("until", third_time)],
            vec!["custom.a"],
        ),
        (vec![("action", "custom.*"), ("user_id", &alice_text)], vec!["custom.a"]),
        (
            vec![("action", "custom.*"), ("offset", "1"), ("limit", "2")],
            vec!["custom.a", "custom.b"],
        ),
        (vec![("action", "nothing.*")], vec![]),
    ];
    for (query, expected) in cases {
        let body = app.activity("/1/activity/all", &admin, &query).await;
        assert_eq!(actions(&body), expected, "{query:?}");
    }
    let paged = app
        .activity(
            "/1/activity/all",
            &admin,
            &[("action", "custom.*"), ("offset", "3"), ("limit", "2")],
        )
        .await;
    assert_eq!(paged["total"], 4, "total counts every match, not the page");

    for (name, value) in
        [("since", "yesterday"), ("until", "2026-13-01"), ("format", "xml"), ("limit", "0")]
    {
        let response = app.get("/1/activity/all", &admin, &[(name, value)]).await;
        let body = assert_error(response, StatusCode::BAD_REQUEST, "invalid_request", None).await;
        assert!(body["message"].as_str().unwrap().contains(name), "{body}");
    }
}

#[tokio::test]
async fn custom_entries_need_an_admin_and_a_custom_action() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (_, user) = app.user_with_token(&admin, "uma", "user", 1).await;

    let cases = [
        vec![("action", "file.upload")],
        vec![("action", "custom.")],
        vec![("action", "custom.has space")],
        vec![("action", "custom.ok"), ("details", "[1, 2]")],
        vec![("action", "custom.ok"), ("details", "{broken")],
        vec![("action", "custom.ok"), ("path", "/a")],
        vec![],
    ];
    for form in cases {
        let response = app.post_form("/1/activity/create", &admin, &form).await;
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_request", None).await;
    }
    let refused = app.post_form("/1/activity/create", &user, &[("action", "custom.ok")]).await;
    assert_error(refused, StatusCode::FORBIDDEN, "forbidden", None).await;
    let missing_root = app
        .post_form("/1/activity/create", &admin, &[("action", "custom.ok"), ("root_id", "999")])
        .await;
    assert_error(missing_root, StatusCode::NOT_FOUND, "not_found", None).await;
}

#[tokio::test]
async fn root_folder_and_file_scopes_follow_the_path() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (alice, alice_token) = app.user_with_token(&admin, "alice", "user", 1).await;
    let (_, bob_token) = app.user_with_token(&admin, "bob", "user", 1).await;
    let root = app.roots_owned_by(alice)[0].0.to_string();
    for path in ["/Projects", "/Projects/a.txt", "/Projects2/b.txt", "/Other/c.txt", "/Cafe\u{301}"]
    {
        app.custom_entry(&admin, &[("action", "custom.file"), ("root_id", &root), ("path", path)])
            .await;
    }
    let only_custom = [("action", "custom.*")];
    let paths = |body: &Value| -> Vec<String> {
        body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|entry| entry["path"].as_str().unwrap().to_string())
            .collect()
    };

    let whole = app.activity(&format!("/1/activity/{root}/"), &alice_token, &only_custom).await;
    assert_eq!(whole["total"], 5);
    let folder =
        app.activity(&format!("/1/activity/{root}/Projects/"), &alice_token, &only_custom).await;
    assert_eq!(paths(&folder), ["/Projects/a.txt", "/Projects"]);
    let file = app
        .activity(&format!("/1/activity/{root}/Projects/a.txt"), &alice_token, &only_custom)
        .await;
    assert_eq!(paths(&file), ["/Projects/a.txt"]);
    let encoded = app
        .activity(&format!("/1/activity/{root}/Projects%2Fa.txt"), &alice_token, &only_custom)
        .await;
    assert_eq!(paths(&encoded), ["/Projects/a.txt"]);
    let nfc =
        app.activity(&format!("/1/activity/{root}/Caf%C3%A9"), &alice_token, &only_custom).await;
    assert_eq!(paths(&nfc), ["/Caf\u{e9}"], "paths are compared in NFC");

    let other = app.get(&format!("/1/activity/{root}/"), &bob_token, &[]).await;
    assert_error(other, StatusCode::NOT_FOUND, "not_found", None).await;
    let escape = app.get(&format!("/1/activity/{root}/a%5Cb"), &alice_token, &[]).await;
    assert_error(escape, StatusCode::BAD_REQUEST, "invalid_request", None).await;
    let not_utf8 = app.get(&format!("/1/activity/{root}/%FF%FE"), &alice_token, &[]).await;
    assert_error(not_utf8, StatusCode::BAD_REQUEST, "invalid_request", None).await;
    let missing = app.get("/1/activity/999/", &admin, &[]).await;
    assert_error(missing, StatusCode::NOT_FOUND, "not_found", None).await;
}

#[tokio::test]
async fn user_and_organization_scopes_hold_their_entries() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let org = app.create_org(&admin, "Org", None).await;
    let sub = app.create_org(&admin, "Sub", Some(org)).await;
    let other = app.create_org(&admin, "Other", None).await;
    let (alice, alice_token) = app.user_with_token(&admin, "alice", "user", sub).await;
    app.user_with_token(&admin, "olga", "user", other).await;
    let wrong = app.sign_in("alice", "wrong password").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    app.post_form("/1/auth/logout", &alice_token, &[]).await;

    let mine = app.activity(&format!("/1/activity/user/{alice}"), &admin, &[]).await;
    assert_eq!(actions(&mine), ["auth.logout", "auth.failed", "auth.login", "user.create"]);

    let org_log = app.activity(&format!("/1/activity/organization/{org}/"), &admin, &[]).await;
    let org_actions = actions(&org_log);
    assert!(org_actions.contains(&"organization.create".to_string()), "{org_actions:?}");
    let creations: Vec<&Value> = org_log["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["action"] == "user.create")
        .collect();
    assert_eq!(creations.len(), 1, "alice (in a sub-organization) only: {org_log}");
    assert_eq!(creations[0]["target_user_id"], alice);
    let other_log = app.activity(&format!("/1/activity/organization/{other}"), &admin, &[]).await;
    assert!(!other_log.to_string().contains("\"alice\""), "{other_log}");
}

#[tokio::test]
async fn the_log_downloads_as_csv_and_as_json_lines() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (_, user) = app.user_with_token(&admin, "vera", "user", 1).await;
    let hostile = "=cmd|\"x\",y\nz";
    assert_eq!(app.sign_in(hostile, "whatever").await.status(), StatusCode::UNAUTHORIZED);
    let listed = app.activity("/1/activity/all", &admin, &[]).await;
    let total = listed["total"].as_i64().unwrap() as usize;

    let response = app.get("/1/activity/all", &admin, &[("format", "csv")]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[CONTENT_TYPE], "text/csv; charset=utf-8");
    assert!(response.headers().get(CONTENT_LENGTH).is_none(), "streamed, not built whole");
    let disposition = response.headers()[CONTENT_DISPOSITION].to_str().unwrap().to_string();
    assert!(
        disposition.starts_with("attachment; filename=\"activity-all-")
            && disposition.ends_with(".csv\""),
        "{disposition}"
    );
    let records = parse_csv(&response.text().await.unwrap());
    assert_eq!(
        records[0].join(","),
        "id,created,action,actor_id,actor_username,organization_id,root_id,path,target_user_id,target_organization_id,machine_id,ip,details"
    );
    assert_eq!(records.len(), total + 1, "a header and every entry");
    let ids: Vec<i64> = records[1..].iter().map(|r| r[0].parse().unwrap()).collect();
    assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "oldest first: {ids:?}");
    let failed = records.iter().find(|r| r[2] == "auth.failed").unwrap();
    assert_eq!(failed[4], format!("'{hostile}"), "a formula is defused, quotes survive");
    let details: Value = serde_json::from_str(&failed[12]).unwrap();
    assert_eq!(details["reason"], "unknown user");

    let response =
        app.get("/1/activity/all", &admin, &[("format", "jsonl"), ("action", "auth.*")]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[CONTENT_TYPE], "application/x-ndjson");
    assert!(response.headers()[CONTENT_DISPOSITION].to_str().unwrap().ends_with(".jsonl\""));
    let text = response.text().await.unwrap();
    let lines: Vec<Value> = text.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    let logins = app.activity("/1/activity/all", &admin, &[("action", "auth.*")]).await;
    assert_eq!(lines.len() as i64, logins["total"].as_i64().unwrap());
    assert!(lines.iter().all(|entry| entry["action"].as_str().unwrap().starts_with("auth.")));

    let refused = app.get("/1/activity/all", &user, &[("format", "csv")]).await;
    assert_error(refused, StatusCode::FORBIDDEN, "forbidden", None).await;
}

#[tokio::test]
async fn a_download_longer_than_one_batch_holds_every_entry() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    {
        let mut conn = app.database();
        let tx = conn.transaction().unwrap();
        for n in 0..2_500 {
            tx.execute(
                "INSERT INTO activity (created, action, details) VALUES ('2026-01-01T00:00:00Z', \
                 'custom.bulk', ?1)",
                [format!("{{\"n\": {n}}}")],
            )
            .unwrap();
        }
        tx.commit().unwrap();
    }

    let response = app
        .get(
            "/1/activity/all",
            &admin,
            &[("format", "jsonl"), ("since", "2026-01-01"), ("until", "2026-01-01")],
        )
        .await;

    let text = response.text().await.unwrap();
    let numbers: Vec<i64> = text
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap()["details"]["n"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, (0..2_500).collect::<Vec<_>>());
}
