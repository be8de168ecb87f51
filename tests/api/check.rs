//! `cloudsync check`: every kind of disagreement between the index and the disk is reported,
//! `--repair` fixes what is safe without removing a user's file, and a clean folder passes.

use reqwest::StatusCode;

use crate::helpers::{json_with_status, spawn_app};
use crate::process::run_check;

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[tokio::test]
async fn check_reports_each_disagreement_and_repair_fixes_what_is_safe() {
    // The server keeps running: check confirms its findings under the writer lock.
    let app = spawn_app().await;
    let token = app.admin_token().await;
    app.upload(&token, 1, "/keep.txt", "keep").await;
    app.upload(&token, 1, "/gone.txt", "gone").await;
    app.upload(&token, 1, "/same-size.txt", "aaaa").await;
    app.upload(&token, 1, "/longer.txt", "short").await;
    let (status, output) = run_check(app.data_dir.path(), &[]).await;
    assert_eq!(status, 0, "a fresh folder is clean: {output}");
    assert!(output.contains("the index and the disk agree"), "{output}");

    let folder = app.root_folder(1);
    let data = app.data_dir.path();
    std::fs::remove_file(folder.join("gone.txt")).unwrap();
    std::fs::write(folder.join("same-size.txt"), "bbbb").unwrap();
    std::fs::write(folder.join("longer.txt"), "much longer now").unwrap();
    std::fs::create_dir(folder.join("dropped")).unwrap();
    std::fs::write(folder.join("dropped/in.txt"), "dropped in").unwrap();
    std::fs::write(folder.join(".0123456789abcdef.cloudsync-part"), "half").unwrap();
    std::fs::write(data.join("revisions/00000000deadbeef"), "orphan").unwrap();
    std::fs::write(data.join("uploads/feedfeedfeedfeedfeedfeedfeedfeed"), "stray").unwrap();
    app.database()
        .execute("UPDATE roots SET space_used = space_used + 1000 WHERE id = 1", [])
        .unwrap();

    let (status, output) = run_check(data, &[]).await;
    assert_eq!(status, 1, "{output}");
    for line in [
        "root 1: missing from disk /gone.txt (4 bytes)",
        "root 1: wrong hash /same-size.txt (index ",
        "root 1: wrong size /longer.txt (index 5 bytes, disk 15 bytes)",
        "root 1: unindexed folder /dropped",
        "root 1: unindexed file /dropped/in.txt (10 bytes)",
        "root 1: leftover part file ",
        "root 1: usage differs space_used (recorded 1017 bytes, live files 17 bytes)",
        "data folder: orphaned kept version ",
        "data folder: leftover upload file ",
        "problems found",
    ] {
        assert!(output.contains(line), "missing {line:?} in:\n{output}");
    }
    assert!(!output.contains("[repaired]"), "a plain check changes nothing: {output}");
    assert!(folder.join(".0123456789abcdef.cloudsync-part").exists());

    let (status, output) = run_check(data, &["--repair"]).await;
    assert_eq!(status, 0, "everything found was repairable: {output}");
    assert_eq!(output.matches("[repaired]").count(), 9, "{output}");

    let (status, output) = run_check(data, &[]).await;
    assert_eq!(status, 0, "clean after the repair: {output}");
    assert!(folder.join("dropped/in.txt").exists(), "a user's file is never removed");
    assert!(!folder.join(".0123456789abcdef.cloudsync-part").exists());
    assert!(!data.join("revisions/00000000deadbeef").exists());
    let meta =
        json_with_status(app.metadata(&token, 1, "/same-size.txt", &[]).await, StatusCode::OK)
            .await;
    assert_eq!(meta["content_hash"], sha256_hex(b"bbbb"));
    let account =
        json_with_status(app.get("/1/account/info", &token, &[]).await, StatusCode::OK).await;
    assert_eq!(account["space_used"], 4 + 4 + 15 + 10);
    let download = app.fetch(&token, 1, "/dropped/in.txt").await;
    assert_eq!(download.text().await.unwrap(), "dropped in");
}

#[tokio::test]
async fn check_reports_kept_versions_whose_bytes_are_gone_and_leaves_them() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let first = app.upload(&token, 1, "/v.txt", "one").await;
    app.upload(&token, 1, "/v.txt", "two").await;
    let rev = first["rev"].as_str().unwrap();
    std::fs::remove_file(app.data_dir.path().join("revisions").join(rev)).unwrap();

    let (status, output) = run_check(app.data_dir.path(), &["--repair"]).await;

    assert_eq!(status, 1, "lost bytes cannot be repaired: {output}");
    assert!(output.contains("data folder: missing kept version "), "{output}");
    assert!(output.contains(rev), "{output}");
    assert!(output.contains(": 1 problems found"), "{output}");
}

#[tokio::test]
async fn check_without_a_database_is_an_error() {
    let empty = tempfile::tempdir().unwrap();
    let (status, output) = run_check(empty.path(), &[]).await;
    assert_eq!(status, 2, "{output}");
    assert!(output.contains("no database"), "{output}");
    assert!(!empty.path().join("cloudsync.db").exists(), "check creates nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_beside_a_busy_server_reports_nothing_and_changes_nothing() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let writer = {
        let (client, address, token) = (app.client.clone(), app.address.clone(), token.clone());
        tokio::spawn(async move {
            for round in 0..60 {
                let path = format!("/busy/f{}.txt", round % 7);
                let body = format!("round {round} ").repeat(200 + round * 13);
                let response = client
                    .put(format!("{address}/1/files_put/1{path}"))
                    .bearer_auth(&token)
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), StatusCode::CREATED);
                if round % 5 == 4 {
                    let form = [("root", "1"), ("path", path.as_str())];
                    let url = format!("{address}/1/fileops/delete");
                    let response =
                        client.post(url).bearer_auth(&token).form(&form).send().await.unwrap();
                    assert_eq!(response.status(), StatusCode::OK);
                }
            }
        })
    };

    let mut runs = 0;
    while !writer.is_finished() || runs == 0 {
        let (status, output) = run_check(app.data_dir.path(), &[]).await;
        assert_eq!(status, 0, "a write in progress is not a problem:\n{output}");
        runs += 1;
    }
    writer.await.unwrap();
    let (status, output) = run_check(app.data_dir.path(), &[]).await;
    assert_eq!(status, 0, "{output}");
    let repairs: i64 = app
        .database()
        .query_row("SELECT COUNT(*) FROM activity WHERE action = 'root.reconcile'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(repairs, 0, "nothing was reconciled ({runs} checks ran)");
}

#[tokio::test]
async fn a_kept_version_the_index_forgot_is_recorded_again_and_can_be_downloaded() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let first = app.upload(&token, 1, "/v.txt", "first").await;
    app.upload(&token, 1, "/v.txt", "second").await;
    let rev = first["rev"].as_str().unwrap().to_string();
    // As after a crash that undid the commit recording the kept version.
    app.database().execute("UPDATE revisions SET stored = 0 WHERE rev = ?1", [&rev]).unwrap();
    let old = app.get("/1/files/1/v.txt", &token, &[("rev", rev.as_str())]).await;
    assert_eq!(old.status(), StatusCode::NOT_FOUND);

    let (status, output) = run_check(app.data_dir.path(), &[]).await;
    assert_eq!(status, 1, "{output}");
    assert!(output.contains("data folder: unrecorded kept version "), "{output}");
    let (status, output) = run_check(app.data_dir.path(), &["--repair"]).await;
    assert_eq!(status, 0, "{output}");

    let old = app.get("/1/files/1/v.txt", &token, &[("rev", rev.as_str())]).await;
    assert_eq!(old.status(), StatusCode::OK);
    assert_eq!(old.text().await.unwrap(), "first");
}
