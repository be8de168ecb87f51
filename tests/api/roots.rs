//! `/1/roots/...`: roots and their members.

use cloudsync::domain::Role;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{TestApp, assert_error, json_with_status, spawn_app};

impl TestApp {
    /// Creates a root as `token` and returns the answer's body, asserting 201.
    pub async fn create_root(&self, token: &str, params: &[(&str, &str)]) -> Value {
        json_with_status(self.get("/1/roots/create/", token, params).await, StatusCode::CREATED)
            .await
    }

    /// A Team Share made by the admin, with its id.
    pub async fn create_share(&self, name: &str) -> i64 {
        let token = self.admin_token().await;
        let root = self.create_root(&token, &[("name", name), ("type", "share")]).await;
        root["id"].as_i64().unwrap()
    }

    /// Stores a machine of a user straight into the database (no machines API needed).
    pub fn seed_machine(&self, user_id: i64, guid: &str) -> i64 {
        let conn = self.database();
        conn.execute(
            "INSERT INTO machines (guid, name, machine_type, user_id, organization_id, created)
             VALUES (?1, ?1, 'agent', ?2, 1, '2026-01-01T00:00:00Z')",
            (guid, user_id),
        )
        .unwrap();
        conn.last_insert_rowid()
    }

    /// Counts activity entries of an action on a root.
    pub fn root_activity_count(&self, action: &str, root_id: i64) -> i64 {
        self.database()
            .query_row(
                "SELECT COUNT(*) FROM activity WHERE action = ?1 AND root_id = ?2",
                (action, root_id),
                |row| row.get(0),
            )
            .unwrap()
    }
}

#[tokio::test]
async fn an_admin_creates_reads_updates_lists_and_deletes_a_share() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;

    let root = app
        .create_root(&admin, &[("name", "Team"), ("type", "share"), ("space_quota", "5000")])
        .await;
    assert_eq!(root["success"], true);
    assert_eq!(root["name"], "Team");
    assert_eq!(root["type"], "share");
    assert!(root["owner_id"].is_null());
    assert_eq!(root["organization_id"], 1);
    assert!(root["machine_id"].is_null());
    assert_eq!(root["space_used"], 0);
    assert_eq!(root["space_quota"], 5000);
    assert!(root["created"].as_str().unwrap().ends_with('Z'));
    assert_eq!(root["permission"], "admin");
    let id = root["id"].as_i64().unwrap();
    let folder = app.data_dir.path().join("roots").join(id.to_string());
    assert!(folder.is_dir(), "the root's folder exists on disk");
    assert_eq!(app.root_activity_count("root.create", id), 1);

    let read =
        json_with_status(app.get(&format!("/1/roots/{id}/"), &admin, &[]).await, StatusCode::OK)
            .await;
    assert_eq!(read["name"], "Team");

    let updated = json_with_status(
        app.get(&format!("/1/roots/update/{id}"), &admin, &[("name", "Crew"), ("space_quota", "")])
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(updated["name"], "Crew");
    assert!(updated["space_quota"].is_null());
    assert_eq!(app.root_activity_count("root.update", id), 1);

    let list = json_with_status(app.get("/1/roots/", &admin, &[]).await, StatusCode::OK).await;
    let ids: Vec<i64> =
        list["results"].as_array().unwrap().iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert!(ids.contains(&id) && ids.len() == 2, "the admin's sync root and the share: {list}");
    assert_eq!(list["total"], 2);

    let deleted = json_with_status(
        app.post_form(&format!("/1/roots/delete/{id}/"), &admin, &[]).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(deleted["success"], true);
    assert!(!folder.exists(), "the root's folder went with it");
    assert_eq!(app.root_activity_count("root.delete", id), 1);
    let gone = app.get(&format!("/1/roots/{id}"), &admin, &[]).await;
    assert_error(gone, StatusCode::NOT_FOUND, "not_found", None).await;
}

#[tokio::test]
async fn bad_root_parameters_answer_400() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for params in [
        vec![("type", "share")],
        vec![("name", "X")],
        vec![("name", "X"), ("type", "cloud")],
        vec![("name", "X"), ("type", "share"), ("space_quota", "-1")],
        vec![("name", "X"), ("type", "share"), ("machine_id", "1")],
        vec![("name", "X"), ("type", "backup")],
        vec![("name", "X"), ("type", "share"), ("path", "relative/folder")],
        vec![("name", "X"), ("type", "share"), ("path", "/no/such/folder/here")],
    ] {
        let response = app.get("/1/roots/create", &admin, &params).await;
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_request", None).await;
    }
    let unknown_owner =
        app.get("/1/roots/create", &admin, &[("name", "X"), ("type", "sync"), ("user_id", "999")]);
    assert_error(unknown_owner.await, StatusCode::NOT_FOUND, "not_found", None).await;
    let bad_id = app.get("/1/roots/abc", &admin, &[]).await;
    assert_error(bad_id, StatusCode::NOT_FOUND, "not_found", None).await;
}

#[tokio::test]
async fn users_create_backups_for_their_own_machines_only() {
    let app = spawn_app().await;
    let amy_id = app.seed_user("amy", "amy-password", Role::User, true);
    let bob_id = app.seed_user("bob", "bob-password", Role::User, true);
    let amy = app.token_for("amy", "amy-password").await;
    let amy_machine = app.seed_machine(amy_id, "amy-laptop");
    let bob_machine = app.seed_machine(bob_id, "bob-laptop");

    let backup = app
        .create_root(
            &amy,
            &[("name", "Laptop"), ("type", "backup"), ("machine_id", &amy_machine.to_string())],
        )
        .await;
    assert_eq!(backup["owner_id"], amy_id);
    assert_eq!(backup["machine_id"], amy_machine);
    assert_eq!(backup["permission"], "admin");

    let others = app
        .get(
            "/1/roots/create",
            &amy,
            &[("name", "Bob's"), ("type", "backup"), ("machine_id", &bob_machine.to_string())],
        )
        .await;
    assert_error(others, StatusCode::BAD_REQUEST, "invalid_request", None).await;
    let for_bob = app
        .get(
            "/1/roots/create",
            &amy,
            &[
                ("name", "Bob's"),
                ("type", "backup"),
                ("user_id", &bob_id.to_string()),
                ("machine_id", &bob_machine.to_string()),
            ],
        )
        .await;
    assert_error(for_bob, StatusCode::FORBIDDEN, "forbidden", None).await;
    for kind in ["sync", "share"] {
        let response = app.get("/1/roots/create", &amy, &[("name", "Mine"), ("type", kind)]).await;
        assert_error(response, StatusCode::FORBIDDEN, "forbidden", None).await;
    }
    let mapped = app
        .get("/1/roots/create", &amy, &[("name", "M"), ("type", "share"), ("path", "/tmp")])
        .await;
    assert_error(mapped, StatusCode::FORBIDDEN, "forbidden", None).await;

    // Amy owns her backup: she may rename it and delete it, but not raise its quota.
    let id = backup["id"].as_i64().unwrap();
    let quota = app.get(&format!("/1/roots/update/{id}"), &amy, &[("space_quota", "1")]).await;
    assert_error(quota, StatusCode::FORBIDDEN, "forbidden", None).await;
    let renamed = app.get(&format!("/1/roots/update/{id}"), &amy, &[("name", "Old laptop")]).await;
    assert_eq!(json_with_status(renamed, StatusCode::OK).await["name"], "Old laptop");
    let deleted = app.get(&format!("/1/roots/delete/{id}"), &amy, &[]).await;
    json_with_status(deleted, StatusCode::OK).await;
}

#[tokio::test]
async fn an_admin_creates_a_sync_root_for_a_user_and_a_user_cannot_list_others() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let cy_id = app.seed_user("cy", "cy-password", Role::User, true);
    let cy = app.token_for("cy", "cy-password").await;

    let root = app
        .create_root(&admin, &[("name", "Cy"), ("type", "sync"), ("user_id", &cy_id.to_string())])
        .await;
    assert_eq!(root["owner_id"], cy_id);
    let listed = json_with_status(app.get("/1/roots", &cy, &[]).await, StatusCode::OK).await;
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["results"][0]["permission"], "admin");
    let by_admin = app.get("/1/roots", &admin, &[("user_id", &cy_id.to_string())]).await;
    assert_eq!(json_with_status(by_admin, StatusCode::OK).await["total"], 1);

    let filtered = app.get("/1/roots", &cy, &[("user_id", "1")]).await;
    assert_error(filtered, StatusCode::FORBIDDEN, "forbidden", None).await;
    let admins_root = app.get("/1/roots/1", &cy, &[]).await;
    assert_error(admins_root, StatusCode::NOT_FOUND, "not_found", None).await;
}

#[tokio::test]
async fn a_system_admin_maps_an_existing_folder() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("keep.txt"), b"kept").unwrap();

    let root = app
        .create_root(
            &admin,
            &[("name", "Mapped"), ("type", "share"), ("path", outside.path().to_str().unwrap())],
        )
        .await;
    let id = root["id"].as_i64().unwrap();
    let inside_data = app.data_dir.path().join("roots");
    let refused = app
        .get(
            "/1/roots/create",
            &admin,
            &[("name", "Bad"), ("type", "share"), ("path", inside_data.to_str().unwrap())],
        )
        .await;
    assert_error(refused, StatusCode::BAD_REQUEST, "invalid_request", None).await;

    json_with_status(app.get(&format!("/1/roots/delete/{id}"), &admin, &[]).await, StatusCode::OK)
        .await;
    assert!(outside.path().join("keep.txt").exists(), "a mapped folder stays on disk");
}

#[tokio::test]
async fn a_move_to_a_root_on_another_disk_copies_then_removes_the_original() {
    use std::os::unix::fs::MetadataExt;
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    // /dev/shm is a memory filesystem: another disk than the data folder's.
    let elsewhere = tempfile::tempdir_in("/dev/shm").unwrap();
    let device = |path: &std::path::Path| std::fs::metadata(path).unwrap().dev();
    assert_ne!(device(elsewhere.path()), device(app.data_dir.path()), "two filesystems");
    let mapped = app
        .create_root(
            &admin,
            &[
                ("name", "Elsewhere"),
                ("type", "share"),
                ("path", elsewhere.path().to_str().unwrap()),
            ],
        )
        .await;
    let mapped = mapped["id"].as_i64().unwrap();
    let to_root = mapped.to_string();
    app.upload(&admin, 1, "/Trip/day 1/a.txt", "first a").await;
    app.upload(&admin, 1, "/Trip/day 1/a.txt", "second a").await;
    app.upload(&admin, 1, "/Trip/b.txt", "b").await;
    app.upload(&admin, 1, "/single.txt", "alone").await;

    for (from, to) in [("/Trip", "/Moved trip"), ("/single.txt", "/Moved trip/single.txt")] {
        let form = [("root", "1"), ("from_path", from), ("to_path", to), ("to_root", &to_root)];
        let moved = app.fileop(&admin, "move", &form).await;
        assert_eq!(json_with_status(moved, StatusCode::OK).await["path"], to);
    }

    let on_disk = |path: &str| std::fs::read_to_string(elsewhere.path().join(path)).unwrap();
    assert_eq!(on_disk("Moved trip/day 1/a.txt"), "second a");
    assert_eq!(on_disk("Moved trip/b.txt"), "b");
    assert_eq!(on_disk("Moved trip/single.txt"), "alone");
    assert!(!app.root_folder(1).join("Trip").exists(), "the original folder is gone");
    assert!(!app.root_folder(1).join("single.txt").exists());
    let leftovers: Vec<_> = std::fs::read_dir(elsewhere.path().join("Moved trip"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "no part files are left: {leftovers:?}");

    let fetched = app.fetch(&admin, mapped, "/Moved trip/day 1/a.txt").await;
    assert_eq!(fetched.text().await.unwrap(), "second a");
    assert_eq!(app.fetch(&admin, 1, "/Trip/b.txt").await.status(), StatusCode::NOT_FOUND);
    // The versions follow the file, and the bytes count where they now are.
    let revisions =
        app.get(&format!("/1/revisions/{mapped}/Moved trip/day 1/a.txt"), &admin, &[]).await;
    assert_eq!(json_with_status(revisions, StatusCode::OK).await["total"], 2);
    for (id, used) in [(mapped, 14), (1, 0)] {
        let root = app.get(&format!("/1/roots/{id}"), &admin, &[]).await;
        assert_eq!(json_with_status(root, StatusCode::OK).await["space_used"], used, "root {id}");
    }

    // And back again, onto the data folder's disk.
    let form = [
        ("root", &to_root[..]),
        ("from_path", "/Moved trip"),
        ("to_path", "/Back"),
        ("to_root", "1"),
    ];
    json_with_status(app.fileop(&admin, "move", &form).await, StatusCode::OK).await;
    assert_eq!(std::fs::read_to_string(app.root_folder(1).join("Back/b.txt")).unwrap(), "b");
    assert!(!elsewhere.path().join("Moved trip").exists());
}

#[tokio::test]
async fn members_are_added_changed_listed_and_removed() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let dan_id = app.seed_user("dan", "dan-password", Role::User, true);
    let dan = app.token_for("dan", "dan-password").await;
    let id = app.create_share("Team").await;
    let members = format!("/1/roots/{id}/members");

    let hidden = app.get(&members, &dan, &[]).await;
    assert_error(hidden, StatusCode::NOT_FOUND, "not_found", None).await;

    let added = app
        .get(
            &format!("{members}/add"),
            &admin,
            &[("user_id", &dan_id.to_string()), ("permission", "read")],
        )
        .await;
    let added = json_with_status(added, StatusCode::OK).await;
    assert_eq!(added["user_id"], dan_id);
    assert_eq!(added["username"], "dan");
    assert_eq!(added["permission"], "read");
    assert_eq!(app.root_activity_count("root.member_add", id), 1);

    let read =
        json_with_status(app.get(&format!("/1/roots/{id}"), &dan, &[]).await, StatusCode::OK).await;
    assert_eq!(read["permission"], "read");
    let listed = json_with_status(app.get(&members, &dan, &[]).await, StatusCode::OK).await;
    assert_eq!(listed["results"][0]["username"], "dan");
    let not_admin = app
        .get(
            &format!("{members}/add"),
            &dan,
            &[("user_id", &dan_id.to_string()), ("permission", "admin")],
        )
        .await;
    assert_error(not_admin, StatusCode::FORBIDDEN, "forbidden", None).await;
    let rename = app.get(&format!("/1/roots/update/{id}"), &dan, &[("name", "Mine")]).await;
    assert_error(rename, StatusCode::FORBIDDEN, "forbidden", None).await;

    let changed = app
        .get(
            &format!("{members}/add"),
            &admin,
            &[("user_id", &dan_id.to_string()), ("permission", "delete")],
        )
        .await;
    assert_eq!(json_with_status(changed, StatusCode::OK).await["permission"], "delete");
    let listed = json_with_status(app.get(&members, &admin, &[]).await, StatusCode::OK).await;
    assert_eq!(listed["total"], 1, "changing a level does not add a second row");

    let bad_level = app
        .get(
            &format!("{members}/add"),
            &admin,
            &[("user_id", &dan_id.to_string()), ("permission", "owner")],
        )
        .await;
    assert_error(bad_level, StatusCode::BAD_REQUEST, "invalid_request", None).await;
    let nobody = app
        .get(&format!("{members}/add"), &admin, &[("user_id", "999"), ("permission", "read")])
        .await;
    assert_error(nobody, StatusCode::NOT_FOUND, "not_found", None).await;

    let dan_text = dan_id.to_string();
    let remove = format!("{members}/remove");
    let removed = app.get(&remove, &admin, &[("user_id", &dan_text)]).await;
    json_with_status(removed, StatusCode::OK).await;
    assert_eq!(app.root_activity_count("root.member_remove", id), 1);
    let again = app.get(&remove, &admin, &[("user_id", &dan_text)]).await;
    assert_error(again, StatusCode::NOT_FOUND, "not_found", None).await;
    let hidden = app.get(&format!("/1/roots/{id}"), &dan, &[]).await;
    assert_error(hidden, StatusCode::NOT_FOUND, "not_found", None).await;
}

#[tokio::test]
async fn an_org_admin_manages_roots_only_within_their_organization() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let branch: i64 = {
        let conn = app.database();
        conn.execute(
            "INSERT INTO organizations (name, parent_id, created)
             VALUES ('Branch', 1, '2026-01-01T00:00:00Z')",
            [],
        )
        .unwrap();
        conn.last_insert_rowid()
    };
    let gus_id = app.seed_user("gus", "gus-password", Role::OrgAdmin, true);
    app.database()
        .execute("UPDATE users SET organization_id = ?1 WHERE id = ?2", (branch, gus_id))
        .unwrap();
    let gus = app.token_for("gus", "gus-password").await;
    let top_share = app.create_share("Head office").await;

    let hidden = app.get(&format!("/1/roots/{top_share}"), &gus, &[]).await;
    assert_error(hidden, StatusCode::NOT_FOUND, "not_found", None).await;
    let outside = app
        .get("/1/roots/create", &gus, &[("name", "X"), ("type", "share"), ("organization_id", "1")])
        .await;
    assert_error(outside, StatusCode::FORBIDDEN, "forbidden", None).await;
    let for_admin = app
        .get("/1/roots/create", &gus, &[("name", "X"), ("type", "sync"), ("user_id", "1")])
        .await;
    assert_error(for_admin, StatusCode::FORBIDDEN, "forbidden", None).await;

    let own = app.create_root(&gus, &[("name", "Branch share"), ("type", "share")]).await;
    assert_eq!(own["organization_id"], branch);
    assert_eq!(own["permission"], "admin");
    let id = own["id"].as_i64().unwrap();
    let quota = app.get(&format!("/1/roots/update/{id}"), &gus, &[("space_quota", "100")]).await;
    assert_eq!(json_with_status(quota, StatusCode::OK).await["space_quota"], 100);
    let listed = json_with_status(app.get("/1/roots", &gus, &[]).await, StatusCode::OK).await;
    assert_eq!(listed["total"], 1, "only the branch's root: {listed}");
    let by_admin = app.get("/1/roots", &admin, &[("organization_id", &branch.to_string())]).await;
    assert_eq!(json_with_status(by_admin, StatusCode::OK).await["total"], 1);
}
