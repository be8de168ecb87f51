//! Files and folders: uploads, downloads, metadata, file operations, revisions, search, delta.

use cloudsync::domain::Role;
use reqwest::{Response, StatusCode};
use serde_json::Value;

use crate::helpers::{TestApp, assert_error, json_with_status, spawn_app};

impl TestApp {
    /// `PUT /1/files_put/<root>/<path>` with a body and query parameters.
    pub async fn put_file(
        &self,
        token: &str,
        root: i64,
        path: &str,
        body: impl Into<reqwest::Body>,
        query: &[(&str, &str)],
    ) -> Response {
        self.client
            .put(self.url(&format!("/1/files_put/{root}{path}")))
            .bearer_auth(token)
            .query(query)
            .body(body)
            .send()
            .await
            .expect("request sent")
    }

    /// Uploads a file and returns its metadata, asserting 201.
    pub async fn upload(&self, token: &str, root: i64, path: &str, body: &str) -> Value {
        let response = self.put_file(token, root, path, body.to_string(), &[]).await;
        json_with_status(response, StatusCode::CREATED).await
    }

    /// `GET /1/files/<root>/<path>`.
    pub async fn fetch(&self, token: &str, root: i64, path: &str) -> Response {
        self.get(&format!("/1/files/{root}{path}"), token, &[]).await
    }

    /// `GET /1/metadata/<root>/<path>` with parameters.
    pub async fn metadata(
        &self,
        token: &str,
        root: i64,
        path: &str,
        query: &[(&str, &str)],
    ) -> Response {
        self.get(&format!("/1/metadata/{root}{path}"), token, query).await
    }

    /// A file operation with the given form.
    pub async fn fileop(&self, token: &str, op: &str, form: &[(&str, &str)]) -> Response {
        self.post_form(&format!("/1/fileops/{op}/"), token, form).await
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[tokio::test]
async fn an_uploaded_file_is_on_disk_in_the_index_and_comes_back() {
    let app = spawn_app().await;
    let token = app.admin_token().await;

    let meta = app.upload(&token, 1, "/Docs/Report 1.txt", "hello world").await;

    assert_eq!(meta["success"], true);
    assert_eq!(meta["root_id"], 1);
    assert_eq!(meta["path"], "/Docs/Report 1.txt");
    assert_eq!(meta["name"], "Report 1.txt");
    assert_eq!(meta["is_dir"], false);
    assert_eq!(meta["is_deleted"], false);
    assert_eq!(meta["bytes"], 11);
    assert_eq!(meta["size"], "11 bytes");
    assert_eq!(meta["mime_type"], "text/plain");
    assert_eq!(meta["content_hash"], sha256_hex(b"hello world"));
    assert!(meta["modified"].as_str().unwrap().ends_with('Z'));
    let rev = meta["rev"].as_str().unwrap().to_string();
    let on_disk = app.root_folder(1).join("Docs").join("Report 1.txt");
    assert_eq!(std::fs::read(&on_disk).unwrap(), b"hello world");
    assert_eq!(app.root_activity_count("file.upload", 1), 1);

    let response = app.fetch(&token, 1, "/Docs/Report%201.txt").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/plain");
    assert_eq!(response.headers()["etag"], format!("\"{rev}\""));
    let disposition = response.headers()["content-disposition"].to_str().unwrap().to_string();
    assert!(disposition.starts_with("attachment") && disposition.contains("Report 1.txt"));
    assert_eq!(response.text().await.unwrap(), "hello world");
    assert_eq!(app.root_activity_count("file.download", 1), 1);

    let ranged = app
        .client
        .get(app.url("/1/files/1/Docs/Report%201.txt"))
        .bearer_auth(&token)
        .header("Range", "bytes=6-")
        .send()
        .await
        .unwrap();
    assert_eq!(ranged.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(ranged.headers()["content-range"], "bytes 6-10/11");
    assert_eq!(ranged.text().await.unwrap(), "world");

    let cached = app
        .client
        .get(app.url("/1/files/1/docs/report%201.txt"))
        .bearer_auth(&token)
        .header("If-None-Match", format!("\"{rev}\""))
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);

    let out_of_range = app
        .client
        .get(app.url("/1/files/1/Docs/Report%201.txt"))
        .bearer_auth(&token)
        .header("Range", "bytes=50-")
        .send()
        .await
        .unwrap();
    assert_eq!(out_of_range.status(), StatusCode::RANGE_NOT_SATISFIABLE);

    let account =
        json_with_status(app.get("/1/account/info", &token, &[]).await, StatusCode::OK).await;
    assert_eq!(account["space_used"], 11, "usage is kept in the database");
}

#[tokio::test]
async fn metadata_lists_folders_with_a_hash_a_limit_and_deleted_entries() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    app.upload(&token, 1, "/a.txt", "a").await;
    app.upload(&token, 1, "/B/b.txt", "bb").await;

    let top = json_with_status(app.metadata(&token, 1, "", &[]).await, StatusCode::OK).await;
    assert_eq!(top["path"], "/");
    assert_eq!(top["is_dir"], true);
    assert!(top.get("mime_type").is_none());
    let names: Vec<&str> =
        top["contents"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["a.txt", "B"]);
    let hash = top["hash"].as_str().unwrap().to_string();

    let same = app.metadata(&token, 1, "/", &[("hash", &hash)]).await;
    assert_eq!(same.status(), StatusCode::NOT_MODIFIED);
    assert!(same.text().await.unwrap().is_empty());

    let folder = json_with_status(app.metadata(&token, 1, "/b/", &[]).await, StatusCode::OK).await;
    assert_eq!(folder["path"], "/B", "a folder path with a trailing slash and another case");
    assert_eq!(folder["contents"][0]["path"], "/B/b.txt");
    let unlisted =
        json_with_status(app.metadata(&token, 1, "/B", &[("list", "false")]).await, StatusCode::OK)
            .await;
    assert!(unlisted.get("contents").is_none());

    let limited = app.metadata(&token, 1, "/", &[("file_limit", "1")]).await;
    assert_error(limited, StatusCode::NOT_ACCEPTABLE, "too_many_entries", None).await;
    let too_big = app.metadata(&token, 1, "/", &[("file_limit", "25001")]).await;
    assert_error(too_big, StatusCode::BAD_REQUEST, "invalid_request", None).await;

    json_with_status(
        app.fileop(&token, "delete", &[("root", "1"), ("path", "/a.txt")]).await,
        StatusCode::OK,
    )
    .await;
    let changed =
        json_with_status(app.metadata(&token, 1, "/", &[("hash", &hash)]).await, StatusCode::OK)
            .await;
    assert_eq!(changed["contents"].as_array().unwrap().len(), 1);
    let with_deleted = json_with_status(
        app.metadata(&token, 1, "/", &[("include_deleted", "true")]).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(with_deleted["contents"][0]["is_deleted"], true);
    let missing = app.metadata(&token, 1, "/a.txt", &[]).await;
    assert_error(missing, StatusCode::NOT_FOUND, "not_found", None).await;
}

#[tokio::test]
async fn overwrite_autorename_and_parent_rev() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let first = app.upload(&token, 1, "/notes.txt", "one").await;
    let first_rev = first["rev"].as_str().unwrap();

    let second = app.upload(&token, 1, "/notes.txt", "two").await;
    assert_eq!(second["path"], "/notes.txt");
    assert_ne!(second["rev"], first["rev"]);

    let kept = app.put_file(&token, 1, "/notes.txt", "three", &[("overwrite", "false")]).await;
    assert_eq!(json_with_status(kept, StatusCode::CREATED).await["path"], "/notes (1).txt");
    let stale = app.put_file(&token, 1, "/notes.txt", "four", &[("parent_rev", first_rev)]).await;
    assert_eq!(json_with_status(stale, StatusCode::CREATED).await["path"], "/notes (2).txt");
    let refused = app
        .put_file(
            &token,
            1,
            "/notes.txt",
            "five",
            &[("parent_rev", first_rev), ("autorename", "false")],
        )
        .await;
    assert_error(refused, StatusCode::CONFLICT, "conflict", None).await;
    let refused = app
        .put_file(
            &token,
            1,
            "/notes.txt",
            "five",
            &[("overwrite", "false"), ("autorename", "false")],
        )
        .await;
    assert_error(refused, StatusCode::CONFLICT, "conflict", None).await;
    let current = second["rev"].as_str().unwrap();
    let fresh = app.put_file(&token, 1, "/notes.txt", "six", &[("parent_rev", current)]).await;
    assert_eq!(json_with_status(fresh, StatusCode::CREATED).await["path"], "/notes.txt");

    assert_eq!(std::fs::read_to_string(app.root_folder(1).join("notes.txt")).unwrap(), "six");
    assert_eq!(std::fs::read_to_string(app.root_folder(1).join("notes (1).txt")).unwrap(), "three");
    let noext = app.upload(&token, 1, "/README", "r").await;
    assert_eq!(noext["mime_type"], "application/octet-stream");
    let again = app.put_file(&token, 1, "/README", "r", &[("overwrite", "false")]).await;
    assert_eq!(json_with_status(again, StatusCode::CREATED).await["path"], "/README (1)");
}

#[tokio::test]
async fn names_differing_only_by_case_cannot_share_a_folder() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    app.upload(&token, 1, "/Photo.JPG", "x").await;

    let clash = app.put_file(&token, 1, "/photo.jpg", "y", &[("autorename", "false")]).await;
    assert_error(clash, StatusCode::CONFLICT, "conflict", None).await;
    let folder =
        app.fileop(&token, "create_folder", &[("root", "1"), ("path", "/PHOTO.jpg")]).await;
    assert_error(folder, StatusCode::CONFLICT, "conflict", None).await;
    let renamed = app.put_file(&token, 1, "/photo.jpg", "y", &[]).await;
    assert_eq!(json_with_status(renamed, StatusCode::CREATED).await["path"], "/photo (1).jpg");

    // Names are stored in NFC whatever form the client sends.
    let decomposed = app.upload(&token, 1, "/Cafe%CC%81.txt", "c").await;
    assert_eq!(decomposed["name"], "Caf\u{e9}.txt");
    assert!(app.root_folder(1).join("Caf\u{e9}.txt").exists());
}

#[tokio::test]
async fn folders_are_created_deleted_and_restored() {
    let app = spawn_app().await;
    let token = app.admin_token().await;

    let created =
        app.fileop(&token, "create_folder", &[("root", "1"), ("path", "/Projects/2026")]).await;
    let created = json_with_status(created, StatusCode::CREATED).await;
    assert_eq!(created["path"], "/Projects/2026");
    assert_eq!(created["is_dir"], true);
    assert!(app.root_folder(1).join("Projects/2026").is_dir());
    assert_eq!(app.root_activity_count("folder.create", 1), 1);
    let again =
        app.fileop(&token, "create_folder", &[("root", "1"), ("path", "/projects/2026")]).await;
    assert_error(again, StatusCode::CONFLICT, "conflict", None).await;

    let file = app.upload(&token, 1, "/Projects/2026/plan.txt", "plan").await;
    let rev = file["rev"].as_str().unwrap().to_string();
    let deleted = app.fileop(&token, "delete", &[("root", "1"), ("path", "/Projects")]).await;
    let deleted = json_with_status(deleted, StatusCode::OK).await;
    assert_eq!(deleted["is_deleted"], true);
    assert!(!app.root_folder(1).join("Projects").exists());
    assert_eq!(app.root_activity_count("file.delete", 1), 1);
    let account =
        json_with_status(app.get("/1/account/info", &token, &[]).await, StatusCode::OK).await;
    assert_eq!(account["space_used"], 0);

    let restored =
        app.post_form("/1/restore/1/Projects/2026/plan.txt", &token, &[("rev", &rev)]).await;
    let restored = json_with_status(restored, StatusCode::OK).await;
    assert_eq!(restored["is_deleted"], false);
    assert_ne!(restored["rev"], rev.as_str());
    assert_eq!(
        std::fs::read_to_string(app.root_folder(1).join("Projects/2026/plan.txt")).unwrap(),
        "plan"
    );
    assert_eq!(app.root_activity_count("file.restore", 1), 1);
    let missing = app.fileop(&token, "delete", &[("root", "1"), ("path", "/nothing")]).await;
    assert_error(missing, StatusCode::NOT_FOUND, "not_found", None).await;
    let top = app.fileop(&token, "delete", &[("root", "1"), ("path", "/")]).await;
    assert_error(top, StatusCode::BAD_REQUEST, "invalid_request", None).await;
}

#[tokio::test]
async fn revisions_list_and_restore_older_versions() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let v1 = app.upload(&token, 1, "/draft.md", "version one").await;
    app.upload(&token, 1, "/draft.md", "version two").await;
    app.upload(&token, 1, "/draft.md", "version three").await;

    let listed =
        json_with_status(app.get("/1/revisions/1/draft.md", &token, &[]).await, StatusCode::OK)
            .await;
    let results = listed["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0]["bytes"], 13, "newest first");
    assert_eq!(results[2]["rev"], v1["rev"]);
    let limited = app.get("/1/revisions/1/draft.md", &token, &[("rev_limit", "1")]).await;
    assert_eq!(json_with_status(limited, StatusCode::OK).await["total"], 1);
    let bad = app.get("/1/revisions/1/draft.md", &token, &[("rev_limit", "1001")]).await;
    assert_error(bad, StatusCode::BAD_REQUEST, "invalid_request", None).await;

    let old = app.get("/1/files/1/draft.md", &token, &[("rev", v1["rev"].as_str().unwrap())]).await;
    assert_eq!(old.text().await.unwrap(), "version one");

    let v1_rev = v1["rev"].as_str().unwrap();
    let restored = app.post_form("/1/restore/1/draft.md", &token, &[("rev", v1_rev)]).await;
    json_with_status(restored, StatusCode::OK).await;
    assert_eq!(app.fetch(&token, 1, "/draft.md").await.text().await.unwrap(), "version one");
    let unknown = app.post_form("/1/restore/1/draft.md", &token, &[("rev", "nope")]).await;
    assert_error(unknown, StatusCode::NOT_FOUND, "not_found", None).await;
}

#[tokio::test]
async fn move_and_copy_within_and_across_roots() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let share = app.create_share("Team").await;
    let share_text = share.to_string();
    app.upload(&token, 1, "/src/a.txt", "aaa").await;
    app.upload(&token, 1, "/src/sub/b.txt", "bb").await;
    app.upload(&token, 1, "/other.txt", "o").await;

    let moved = app
        .fileop(&token, "move", &[("root", "1"), ("from_path", "/src"), ("to_path", "/dst")])
        .await;
    let moved = json_with_status(moved, StatusCode::OK).await;
    assert_eq!(moved["path"], "/dst");
    assert!(app.root_folder(1).join("dst/sub/b.txt").exists());
    assert!(!app.root_folder(1).join("src").exists());
    let inner =
        json_with_status(app.metadata(&token, 1, "/dst/sub/b.txt", &[]).await, StatusCode::OK)
            .await;
    assert_eq!(inner["bytes"], 2);
    assert_eq!(app.root_activity_count("file.move", 1), 1);

    let clash = app
        .fileop(
            &token,
            "move",
            &[("root", "1"), ("from_path", "/other.txt"), ("to_path", "/dst/a.txt")],
        )
        .await;
    assert_error(clash, StatusCode::CONFLICT, "conflict", None).await;
    let into_itself = app
        .fileop(&token, "move", &[("root", "1"), ("from_path", "/dst"), ("to_path", "/dst/x")])
        .await;
    assert_error(into_itself, StatusCode::BAD_REQUEST, "invalid_request", None).await;
    let case_only = app
        .fileop(
            &token,
            "move",
            &[("root", "1"), ("from_path", "/other.txt"), ("to_path", "/OTHER.txt")],
        )
        .await;
    assert_eq!(json_with_status(case_only, StatusCode::OK).await["path"], "/OTHER.txt");

    let copied = app
        .fileop(
            &token,
            "copy",
            &[
                ("root", "1"),
                ("from_path", "/dst"),
                ("to_path", "/in-share"),
                ("to_root", &share_text),
            ],
        )
        .await;
    let copied = json_with_status(copied, StatusCode::OK).await;
    assert_eq!(copied["root_id"], share);
    assert_eq!(
        std::fs::read_to_string(app.root_folder(share).join("in-share/sub/b.txt")).unwrap(),
        "bb"
    );
    assert!(app.root_folder(1).join("dst/a.txt").exists(), "the original stays");
    assert_eq!(app.root_activity_count("file.copy", share), 1);
    let copy_clash = app
        .fileop(
            &token,
            "copy",
            &[("root", "1"), ("from_path", "/dst/a.txt"), ("to_path", "/OTHER.txt")],
        )
        .await;
    assert_error(copy_clash, StatusCode::CONFLICT, "conflict", None).await;

    let across = app
        .fileop(
            &token,
            "move",
            &[
                ("root", "1"),
                ("from_path", "/dst/a.txt"),
                ("to_path", "/a.txt"),
                ("to_root", &share_text),
            ],
        )
        .await;
    assert_eq!(json_with_status(across, StatusCode::OK).await["root_id"], share);
    let root =
        json_with_status(app.get(&format!("/1/roots/{share}"), &token, &[]).await, StatusCode::OK)
            .await;
    assert_eq!(root["space_used"], 3 + 2 + 3, "the copy and the moved file count in the share");
}

#[tokio::test]
async fn search_finds_names_without_regard_to_case() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    app.upload(&token, 1, "/Reports/Annual REPORT.pdf", "x").await;
    app.upload(&token, 1, "/Reports/summary.txt", "x").await;
    app.upload(&token, 1, "/report-old.txt", "x").await;

    let found = app.get("/1/search/1/", &token, &[("query", "report")]).await;
    let found = json_with_status(found, StatusCode::OK).await;
    let paths: Vec<&str> =
        found["results"].as_array().unwrap().iter().map(|e| e["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["/report-old.txt", "/Reports", "/Reports/Annual REPORT.pdf"]);
    let inside = app.get("/1/search/1/Reports", &token, &[("query", "REPORT")]).await;
    assert_eq!(json_with_status(inside, StatusCode::OK).await["total"], 1);
    let limited = app.get("/1/search/1", &token, &[("query", "report"), ("file_limit", "1")]).await;
    assert_eq!(json_with_status(limited, StatusCode::OK).await["total"], 1);
    let empty = app.get("/1/search/1", &token, &[]).await;
    assert_error(empty, StatusCode::BAD_REQUEST, "invalid_request", None).await;
}

#[tokio::test]
async fn delta_reports_changes_since_a_cursor() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    app.upload(&token, 1, "/one.txt", "1").await;

    let first =
        json_with_status(app.post_form("/1/delta", &token, &[("root", "1")]).await, StatusCode::OK)
            .await;
    assert_eq!(first["reset"], true);
    assert_eq!(first["has_more"], false);
    assert_eq!(first["entries"][0][0], "/one.txt");
    assert_eq!(first["entries"][0][1]["path"], "/one.txt");
    let cursor = first["cursor"].as_str().unwrap().to_string();

    let quiet = app.post_form("/1/delta", &token, &[("root", "1"), ("cursor", &cursor)]).await;
    let quiet = json_with_status(quiet, StatusCode::OK).await;
    assert_eq!(quiet["entries"].as_array().unwrap().len(), 0);
    assert_eq!(quiet["reset"], false);

    app.upload(&token, 1, "/Two.txt", "2").await;
    json_with_status(
        app.fileop(&token, "delete", &[("root", "1"), ("path", "/one.txt")]).await,
        StatusCode::OK,
    )
    .await;
    let changes = app.post_form("/1/delta", &token, &[("root", "1"), ("cursor", &cursor)]).await;
    let changes = json_with_status(changes, StatusCode::OK).await;
    let entries = changes["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0][0], "/two.txt");
    assert_eq!(entries[1][0], "/one.txt");
    assert!(entries[1][1].is_null(), "a deletion carries no metadata");

    // A move onto deleted entries removes them for good: older cursors start over.
    let before = changes["cursor"].as_str().unwrap().to_string();
    app.upload(&token, 1, "/dir/f.txt", "f").await;
    let deleted = app.fileop(&token, "delete", &[("root", "1"), ("path", "/dir")]).await;
    json_with_status(deleted, StatusCode::OK).await;
    app.upload(&token, 1, "/other/g.txt", "g").await;
    let kept_versions =
        || std::fs::read_dir(app.data_dir.path().join("revisions")).unwrap().count();
    let kept_before = kept_versions();
    let moved = app
        .fileop(&token, "move", &[("root", "1"), ("from_path", "/other"), ("to_path", "/dir")])
        .await;
    json_with_status(moved, StatusCode::OK).await;
    assert_eq!(kept_versions(), kept_before - 1, "the replaced file's kept version is removed");
    let old = app.post_form("/1/delta", &token, &[("root", "1"), ("cursor", &before)]).await;
    let old = json_with_status(old, StatusCode::OK).await;
    assert_eq!(old["reset"], true, "a cursor from before the purge is too old");
    let fresh = old["cursor"].as_str().unwrap().to_string();
    let after = app.post_form("/1/delta", &token, &[("root", "1"), ("cursor", &fresh)]).await;
    assert_eq!(json_with_status(after, StatusCode::OK).await["reset"], false);

    for stale in ["999.5", "garbage", "1.99999"] {
        let response = app.post_form("/1/delta", &token, &[("root", "1"), ("cursor", stale)]).await;
        assert_eq!(json_with_status(response, StatusCode::OK).await["reset"], true, "{stale}");
    }
}

#[tokio::test]
async fn a_team_share_member_gets_what_their_level_allows() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let share = app.create_share("Team").await;
    let share_text = share.to_string();
    app.upload(&admin, share, "/doc.txt", "shared").await;
    let eve_id = app.seed_user("eve", "eve-password", Role::User, true);
    let eve = app.token_for("eve", "eve-password").await;
    let eve_text = eve_id.to_string();

    // Not a member: the share is invisible.
    let hidden = app.fetch(&eve, share, "/doc.txt").await;
    assert_error(hidden, StatusCode::NOT_FOUND, "not_found", None).await;

    let set_level = |level: &'static str| {
        let members = format!("/1/roots/{share}/members/add");
        let admin = admin.clone();
        let eve_text = eve_text.clone();
        let app = &app;
        async move {
            let response =
                app.get(&members, &admin, &[("user_id", &eve_text), ("permission", level)]).await;
            json_with_status(response, StatusCode::OK).await;
        }
    };

    set_level("read").await;
    assert_eq!(app.fetch(&eve, share, "/doc.txt").await.status(), StatusCode::OK);
    let write = app.put_file(&eve, share, "/eve.txt", "e", &[]).await;
    assert_error(write, StatusCode::FORBIDDEN, "forbidden", None).await;
    let folder = app.fileop(&eve, "create_folder", &[("root", &share_text), ("path", "/x")]).await;
    assert_error(folder, StatusCode::FORBIDDEN, "forbidden", None).await;

    set_level("write").await;
    let written = app.put_file(&eve, share, "/eve.txt", "e", &[]).await;
    json_with_status(written, StatusCode::CREATED).await;
    let delete = app.fileop(&eve, "delete", &[("root", &share_text), ("path", "/eve.txt")]).await;
    assert_error(delete, StatusCode::FORBIDDEN, "forbidden", None).await;

    set_level("delete").await;
    let delete = app.fileop(&eve, "delete", &[("root", &share_text), ("path", "/eve.txt")]).await;
    json_with_status(delete, StatusCode::OK).await;
    let manage = app
        .get(
            &format!("/1/roots/{share}/members/add"),
            &eve,
            &[("user_id", &eve_text), ("permission", "admin")],
        )
        .await;
    assert_error(manage, StatusCode::FORBIDDEN, "forbidden", None).await;

    set_level("admin").await;
    let add = format!("/1/roots/{share}/members/add");
    let members = app.get(&add, &eve, &[("user_id", &eve_text), ("permission", "admin")]).await;
    json_with_status(members, StatusCode::OK).await;
}

impl TestApp {
    /// `PUT /1/chunked_upload/` with a chunk and parameters; answers the JSON and status.
    async fn chunk(&self, token: &str, body: &str, query: &[(&str, &str)]) -> Response {
        self.client
            .put(self.url("/1/chunked_upload/"))
            .bearer_auth(token)
            .query(query)
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn chunked_uploads_check_offsets_commit_and_expire() {
    let app = spawn_app().await;
    let token = app.admin_token().await;

    let first = json_with_status(app.chunk(&token, "hello", &[]).await, StatusCode::OK).await;
    let id = first["upload_id"].as_str().unwrap().to_string();
    assert_eq!(first["offset"], 5);
    assert!(first["expires"].as_str().unwrap().ends_with('Z'));

    let wrong = app.chunk(&token, " world", &[("upload_id", &id), ("offset", "3")]).await;
    let wrong = assert_error(wrong, StatusCode::BAD_REQUEST, "invalid_request", None).await;
    assert_eq!(wrong["offset"], 5, "the answer names the expected offset");
    // Spaces around the id are ignored, as they are by the commit.
    let padded = format!(" {id} ");
    let next = app.chunk(&token, " world", &[("upload_id", &padded), ("offset", "5")]).await;
    let next = json_with_status(next, StatusCode::OK).await;
    assert_eq!(next["offset"], 11);
    assert_eq!(next["upload_id"], id.as_str());

    app.upload(&token, 1, "/taken.txt", "x").await;
    let clash = app
        .post_form(
            "/1/commit_chunked_upload/1/taken.txt",
            &token,
            &[("upload_id", &id), ("overwrite", "false"), ("autorename", "false")],
        )
        .await;
    assert_error(clash, StatusCode::CONFLICT, "conflict", None).await;
    let upload = [("upload_id", padded.as_str())];
    let committed = app.post_form("/1/commit_chunked_upload/1/big/greeting.txt", &token, &upload);
    let committed = json_with_status(committed.await, StatusCode::CREATED).await;
    assert_eq!(committed["path"], "/big/greeting.txt");
    assert_eq!(committed["bytes"], 11);
    assert_eq!(
        app.fetch(&token, 1, "/big/greeting.txt").await.text().await.unwrap(),
        "hello world"
    );
    let again = app.post_form("/1/commit_chunked_upload/1/x.txt", &token, &upload);
    assert_error(again.await, StatusCode::NOT_FOUND, "not_found", None).await;

    // Someone else's upload id is unknown to them.
    let started = json_with_status(app.chunk(&token, "abc", &[]).await, StatusCode::OK).await;
    let other_id = started["upload_id"].as_str().unwrap().to_string();
    app.seed_user("fay", "fay-password", Role::User, true);
    let fay = app.token_for("fay", "fay-password").await;
    let foreign = app.chunk(&fay, "def", &[("upload_id", &other_id), ("offset", "3")]).await;
    assert_error(foreign, StatusCode::NOT_FOUND, "not_found", None).await;

    // An abandoned upload expires and its bytes are removed.
    let uploads = app.data_dir.path().join("uploads");
    assert!(uploads.join(&other_id).exists());
    app.advance_clock(chrono::Duration::hours(25));
    let late = app.chunk(&token, "def", &[("upload_id", &other_id), ("offset", "3")]).await;
    assert_error(late, StatusCode::NOT_FOUND, "not_found", None).await;
    json_with_status(app.chunk(&token, "new", &[]).await, StatusCode::OK).await;
    assert!(!uploads.join(&other_id).exists(), "the expired upload's bytes are gone");
}

#[tokio::test]
async fn requests_racing_for_one_chunked_upload_store_it_once_and_whole() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    for round in 0..20 {
        let started = json_with_status(app.chunk(&token, "abcd", &[]).await, StatusCode::OK).await;
        let id = started["upload_id"].as_str().unwrap().to_string();
        let form = [("upload_id", id.as_str())];
        let first = format!("/1/commit_chunked_upload/1/race/{round}-a.txt");
        let second = format!("/1/commit_chunked_upload/1/race/{round}-b.txt");
        let chunk_query = [("upload_id", id.as_str()), ("offset", "4")];
        let (first, second, chunk) = tokio::join!(
            app.post_form(&first, &token, &form),
            app.post_form(&second, &token, &form),
            app.chunk(&token, "efgh", &chunk_query),
        );
        // At most one commit stores the upload; a request that finds it busy answers 409, one
        // that comes after the winning commit 404.
        let expected = [StatusCode::CREATED, StatusCode::CONFLICT, StatusCode::NOT_FOUND];
        for status in [first.status(), second.status(), chunk.status()] {
            assert!(status.is_success() || expected.contains(&status), "round {round}: {status}");
        }
        let won: Vec<&str> = [("a", first.status()), ("b", second.status())]
            .into_iter()
            .filter(|(_, status)| *status == StatusCode::CREATED)
            .map(|(name, _)| name)
            .collect();
        assert!(won.len() <= 1, "round {round}: the upload was stored twice");
        let with_chunk = chunk.status() == StatusCode::OK;
        let name = match won[..] {
            [name] => name,
            _ => {
                // Both commits met the chunk at work: the upload is still there, whole.
                assert!(with_chunk, "round {round}: nothing held the upload");
                let late = app
                    .post_form(
                        &format!("/1/commit_chunked_upload/1/race/{round}-a.txt"),
                        &token,
                        &form,
                    )
                    .await;
                assert_eq!(late.status(), StatusCode::CREATED, "round {round}");
                "a"
            }
        };
        // A chunk racing the commits is either in the stored file or refused.
        let body = app.fetch(&token, 1, &format!("/race/{round}-{name}.txt")).await;
        let expected = if with_chunk { "abcdefgh" } else { "abcd" };
        assert_eq!(body.text().await.unwrap(), expected, "round {round}");
        let loser = if name == "a" { "b" } else { "a" };
        let missing = app.fetch(&token, 1, &format!("/race/{round}-{loser}.txt")).await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND, "round {round}");
    }
}
