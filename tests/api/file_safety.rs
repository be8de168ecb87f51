//! Files under stress: hostile paths, symbolic links out of a root, racing and broken
//! uploads, quotas and the upload size limit, form uploads.

use std::sync::Arc;
use std::time::Duration;

use cloudsync::app::Application;
use cloudsync::clock::Clock;
use cloudsync::config::Config;
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{ADMIN_PASSWORD, TestApp, assert_error, json_with_status, spawn_app};

/// Starts the real application like `spawn_app`, with a change to its configuration.
async fn spawn_app_with(change: impl FnOnce(&mut Config)) -> TestApp {
    let data_dir = tempfile::tempdir().unwrap();
    let mut config = Config::with_data_dir(data_dir.path().to_path_buf());
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.admin_password = Some(ADMIN_PASSWORD.into());
    config.bcrypt_cost = 4;
    change(&mut config);
    let clock = Arc::new(Clock::system());
    let application = Application::build(config, clock.clone()).await.unwrap();
    let address = format!("http://127.0.0.1:{}", application.port());
    tokio::spawn(application.run_until_stopped());
    TestApp { address, clock, data_dir, client: reqwest::Client::new() }
}

impl TestApp {
    /// Sends raw bytes to the server (no URL clean-up by a client library) and answers the
    /// status code and the text of the reply.
    async fn raw_exchange(&self, request: &str) -> (u16, String) {
        let address = self.address.trim_start_matches("http://");
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).await.unwrap();
        let reply = String::from_utf8_lossy(&reply).into_owned();
        (reply.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0), reply)
    }

    fn files_in(&self, folder: &str) -> Vec<String> {
        std::fs::read_dir(self.data_dir.path().join(folder))
            .map(|entries| {
                entries.map(|entry| entry.unwrap().file_name().to_string_lossy().into()).collect()
            })
            .unwrap_or_default()
    }
}

#[tokio::test]
async fn hostile_paths_are_refused_and_touch_nothing() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    app.upload(&token, 1, "/inside.txt", "in").await;
    let auth = format!("Authorization: Bearer {token}\r\nConnection: close\r\nHost: test\r\n");

    let url_table = [
        ("GET", "/1/files/1/../../etc/passwd"),
        ("GET", "/1/files/1/%2e%2e/%2e%2e/etc/passwd"),
        ("GET", "/1/files/1/%2E%2E/inside.txt"),
        ("GET", "/1/files/1/a%2f..%2f..%2fetc%2fpasswd"),
        ("GET", "/1/files/1/..%5c..%5cetc%5cpasswd"),
        ("GET", "/1/files/1/a%00b"),
        ("GET", "/1/files/1/%252e%252e/%252e%252e/etc/passwd"),
        ("GET", "/1/metadata/1/C:/Windows"),
        ("GET", "/1/metadata/1/a%ff"),
        ("PUT", "/1/files_put/1/../escape.txt"),
        ("PUT", "/1/files_put/1/%2e%2e/escape.txt"),
        ("PUT", "/1/files_put/1/sub%5c..%5c..%5cescape.txt"),
        ("POST", "/1/restore/1/%2e%2e/x?rev=1"),
        ("GET", "/1/search/1/%2e%2e?query=x"),
    ];
    for (method, path) in url_table {
        let request = format!("{method} {path} HTTP/1.1\r\n{auth}Content-Length: 4\r\n\r\nevil");
        let (status, reply) = app.raw_exchange(&request).await;
        assert_eq!(status, 400, "{method} {path}: {reply}");
        assert!(reply.contains("The path"), "{method} {path} refused by the path check: {reply}");
    }

    let param_table =
        ["../x", "/a/../../x", "a\\b", "/a\0b", "/a//b", "%2e%2e/x", "/x/%2E%2E", "C:/x", "/a/."];
    for path in param_table {
        let response = app.fileop(&token, "create_folder", &[("root", "1"), ("path", path)]).await;
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_request", None).await;
        let response = app
            .fileop(
                &token,
                "move",
                &[("root", "1"), ("from_path", "/inside.txt"), ("to_path", path)],
            )
            .await;
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_request", None).await;
    }

    assert!(!app.data_dir.path().join("escape.txt").exists());
    assert!(!app.data_dir.path().join("roots/escape.txt").exists());
    assert_eq!(app.files_in("roots/1"), ["inside.txt"], "nothing else was made in the root");
    assert!(app.files_in("tmp").is_empty(), "no temporary file is left");
}

#[tokio::test]
async fn a_symbolic_link_out_of_the_root_is_refused() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    app.upload(&token, 1, "/a.txt", "a").await;
    let outside = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/etc", app.root_folder(1).join("evil")).unwrap();
    std::os::unix::fs::symlink(outside.path(), app.root_folder(1).join("out")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", app.root_folder(1).join("pw")).unwrap();

    let read = app.fetch(&token, 1, "/evil/passwd").await;
    assert_error(read, StatusCode::BAD_REQUEST, "invalid_request", None).await;
    let read = app.fetch(&token, 1, "/pw").await;
    assert_error(read, StatusCode::BAD_REQUEST, "invalid_request", None).await;
    let write = app.put_file(&token, 1, "/out/planted.txt", "x", &[]).await;
    assert_error(write, StatusCode::BAD_REQUEST, "invalid_request", None).await;
    let write = app.put_file(&token, 1, "/pw", "x", &[]).await;
    assert_error(write, StatusCode::BAD_REQUEST, "invalid_request", None).await;
    let folder = app.fileop(&token, "create_folder", &[("root", "1"), ("path", "/out/sub")]).await;
    assert_error(folder, StatusCode::BAD_REQUEST, "invalid_request", None).await;
    for op in ["move", "copy"] {
        let response = app
            .fileop(
                &token,
                op,
                &[("root", "1"), ("from_path", "/a.txt"), ("to_path", "/out/a.txt")],
            )
            .await;
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_request", None).await;
    }

    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0, "nothing landed outside");
    assert!(std::fs::read_to_string("/etc/passwd").unwrap().len() > 1, "the target is untouched");
    assert_eq!(std::fs::read_to_string(app.root_folder(1).join("a.txt")).unwrap(), "a");
}

#[tokio::test]
async fn two_concurrent_uploads_to_one_path_leave_one_whole_file() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let first = vec![b'1'; 3 * 1024 * 1024];
    let second = vec![b'2'; 2 * 1024 * 1024];

    let (one, two) = tokio::join!(
        app.put_file(&token, 1, "/race.bin", first.clone(), &[]),
        app.put_file(&token, 1, "/race.bin", second.clone(), &[]),
    );
    json_with_status(one, StatusCode::CREATED).await;
    json_with_status(two, StatusCode::CREATED).await;

    let meta =
        json_with_status(app.metadata(&token, 1, "/race.bin", &[]).await, StatusCode::OK).await;
    let on_disk = std::fs::read(app.root_folder(1).join("race.bin")).unwrap();
    assert!(on_disk == first || on_disk == second, "the file is one whole upload");
    assert_eq!(meta["bytes"], on_disk.len(), "the index describes the bytes on disk");
    let served = app.fetch(&token, 1, "/race.bin").await.bytes().await.unwrap();
    assert_eq!(served.as_ref(), on_disk.as_slice());
    let revisions = app.get("/1/revisions/1/race.bin", &token, &[]).await;
    assert_eq!(json_with_status(revisions, StatusCode::OK).await["total"], 2);
    let account =
        json_with_status(app.get("/1/account/info", &token, &[]).await, StatusCode::OK).await;
    assert_eq!(account["space_used"], on_disk.len());

    let (one, two) = tokio::join!(
        app.put_file(&token, 1, "/pair.bin", first.clone(), &[("overwrite", "false")]),
        app.put_file(&token, 1, "/pair.bin", second.clone(), &[("overwrite", "false")]),
    );
    let one = json_with_status(one, StatusCode::CREATED).await;
    let two = json_with_status(two, StatusCode::CREATED).await;
    let mut paths = [one["path"].as_str().unwrap(), two["path"].as_str().unwrap()];
    paths.sort_unstable();
    assert_eq!(paths, ["/pair (1).bin", "/pair.bin"]);
}

#[tokio::test]
async fn an_upload_cut_off_mid_body_leaves_nothing() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let address = app.address.trim_start_matches("http://").to_string();

    let mut stream = TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "PUT /1/files_put/1/cut.bin HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {token}\r\n\
         Content-Length: 1000000\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&vec![b'x'; 500_000]).await.unwrap();
    stream.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(stream);

    // The server notices the broken body and drops the temporary file.
    let mut tmp_left = app.files_in("tmp");
    for _ in 0..50 {
        if tmp_left.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        tmp_left = app.files_in("tmp");
    }
    assert!(tmp_left.is_empty(), "temporary files left: {tmp_left:?}");
    let missing = app.metadata(&token, 1, "/cut.bin", &[]).await;
    assert_error(missing, StatusCode::NOT_FOUND, "not_found", None).await;
    assert!(!app.root_folder(1).join("cut.bin").exists());
    assert_eq!(app.root_activity_count("file.upload", 1), 0);
}

#[tokio::test]
async fn leftover_temporary_files_are_removed_at_start() {
    let data_dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(data_dir.path().join("tmp")).unwrap();
    std::fs::write(data_dir.path().join("tmp/crashed.part"), b"half").unwrap();
    let kept = data_dir.path().to_path_buf();

    let app = spawn_app_with(|config| config.data_dir = kept).await;

    assert!(!data_dir.path().join("tmp/crashed.part").exists());
    drop(app);
}

#[tokio::test]
async fn quotas_of_roots_users_and_organizations_answer_507() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let share = app
        .create_root(&token, &[("name", "Small"), ("type", "share"), ("space_quota", "10")])
        .await["id"]
        .as_i64()
        .unwrap();

    app.upload(&token, share, "/eight.txt", "12345678").await;
    let over = app.put_file(&token, share, "/more.txt", "12345", &[]).await;
    assert_error(over, StatusCode::INSUFFICIENT_STORAGE, "quota_exceeded", None).await;
    let grow = app.put_file(&token, share, "/eight.txt", "123456789", &[]).await;
    json_with_status(grow, StatusCode::CREATED).await;
    let folder_copy = app
        .fileop(
            &token,
            "copy",
            &[("root", &share.to_string()), ("from_path", "/eight.txt"), ("to_path", "/c.txt")],
        )
        .await;
    assert_error(folder_copy, StatusCode::INSUFFICIENT_STORAGE, "quota_exceeded", None).await;
    app.upload(&token, 1, "/five.txt", "12345").await;
    let moved_in = app
        .fileop(
            &token,
            "move",
            &[
                ("root", "1"),
                ("from_path", "/five.txt"),
                ("to_path", "/five.txt"),
                ("to_root", &share.to_string()),
            ],
        )
        .await;
    assert_error(moved_in, StatusCode::INSUFFICIENT_STORAGE, "quota_exceeded", None).await;
    assert!(app.root_folder(1).join("five.txt").exists(), "a refused move leaves the file");
    json_with_status(
        app.fileop(&token, "delete", &[("root", "1"), ("path", "/five.txt")]).await,
        StatusCode::OK,
    )
    .await;
    assert!(!app.root_folder(share).join("more.txt").exists());
    assert!(app.files_in("tmp").is_empty());

    // The owner's quota counts every root they own.
    app.database().execute("UPDATE users SET space_quota = 20 WHERE id = 1", []).unwrap();
    app.upload(&token, 1, "/a.txt", "0123456789").await;
    let over = app.put_file(&token, 1, "/b.txt", vec![b'x'; 11], &[]).await;
    assert_error(over, StatusCode::INSUFFICIENT_STORAGE, "quota_exceeded", None).await;
    app.database().execute("UPDATE users SET space_quota = NULL", []).unwrap();

    // The organization's quota counts every root of it.
    app.database().execute("UPDATE organizations SET space_quota = 25", []).unwrap();
    let over = app.put_file(&token, 1, "/b.txt", vec![b'x'; 10], &[]).await;
    assert_error(over, StatusCode::INSUFFICIENT_STORAGE, "quota_exceeded", None).await;
    let fits = app.put_file(&token, 1, "/b.txt", vec![b'x'; 6], &[]).await;
    json_with_status(fits, StatusCode::CREATED).await;
}

#[tokio::test]
async fn uploads_over_the_configured_limit_answer_413() {
    let app = spawn_app_with(|config| config.max_upload_bytes = Some(1000)).await;
    let token = app.admin_token().await;

    let fits = app.put_file(&token, 1, "/ok.bin", vec![0u8; 1000], &[]).await;
    json_with_status(fits, StatusCode::CREATED).await;
    let declared = app.put_file(&token, 1, "/big.bin", vec![0u8; 1001], &[]).await;
    assert_error(declared, StatusCode::PAYLOAD_TOO_LARGE, "too_large", None).await;

    // A body without a declared length is cut off once it passes the limit.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = vec![Ok(vec![0u8; 800]), Ok(vec![0u8; 800])];
    let streamed = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let response = app.put_file(&token, 1, "/streamed.bin", streamed, &[]).await;
    assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "too_large", None).await;
    assert!(!app.root_folder(1).join("streamed.bin").exists());
    assert!(!app.root_folder(1).join("big.bin").exists());
}

#[tokio::test]
async fn a_form_upload_stores_every_file_part() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let form = reqwest::multipart::Form::new()
        .part("file", reqwest::multipart::Part::bytes(b"first".to_vec()).file_name("one.txt"))
        .text("submit", "Upload")
        .part("file", reqwest::multipart::Part::bytes(b"second".to_vec()).file_name("two.txt"));

    let response = app
        .client
        .post(app.url("/1/files/1/Inbox"))
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await
        .unwrap();

    let body = json_with_status(response, StatusCode::CREATED).await;
    assert_eq!(body["results"].as_array().unwrap().len(), 2);
    assert_eq!(body["results"][1]["path"], "/Inbox/two.txt");
    assert_eq!(std::fs::read_to_string(app.root_folder(1).join("Inbox/one.txt")).unwrap(), "first");

    let bad_name = reqwest::multipart::Form::new()
        .part("file", reqwest::multipart::Part::bytes(b"x".to_vec()).file_name("..\\evil"));
    let response = app
        .client
        .post(app.url("/1/files/1/Inbox"))
        .bearer_auth(&token)
        .multipart(bad_name)
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_request", None).await;
    let not_a_form =
        app.client.post(app.url("/1/files/1/Inbox")).bearer_auth(&token).body("x").send().await;
    assert_error(not_a_form.unwrap(), StatusCode::BAD_REQUEST, "invalid_request", None).await;
    let wrong_method =
        app.client.delete(app.url("/1/files/1/Inbox/one.txt")).bearer_auth(&token).send().await;
    assert_error(wrong_method.unwrap(), StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", None)
        .await;
}

#[tokio::test]
async fn a_restart_reconciles_the_index_with_the_disk() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    app.upload(&token, 1, "/keep.txt", "keep").await;
    app.upload(&token, 1, "/gone.txt", "gone").await;
    let before = app.upload(&token, 1, "/changed.txt", "old").await;
    let folder = app.root_folder(1);
    std::fs::remove_file(folder.join("gone.txt")).unwrap();
    std::fs::write(folder.join("changed.txt"), "new and longer").unwrap();
    std::fs::create_dir(folder.join("dropped")).unwrap();
    std::fs::write(folder.join("dropped/in.txt"), "dropped in").unwrap();
    std::os::unix::fs::symlink("/etc", folder.join("link")).unwrap();

    // A second start on the same data folder reconciles before it serves.
    let kept = app.data_dir.path().to_path_buf();
    let restarted = spawn_app_with(|config| config.data_dir = kept).await;
    let token = restarted.admin_token().await;

    let top = json_with_status(restarted.metadata(&token, 1, "/", &[]).await, StatusCode::OK).await;
    let names: Vec<&str> =
        top["contents"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["changed.txt", "dropped", "keep.txt"]);
    let changed =
        json_with_status(restarted.metadata(&token, 1, "/changed.txt", &[]).await, StatusCode::OK)
            .await;
    assert_eq!(changed["bytes"], 14);
    assert_ne!(changed["rev"], before["rev"]);
    assert_eq!(
        changed["content_hash"],
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"new and longer"))
    );
    let inner = restarted.metadata(&token, 1, "/dropped/in.txt", &[]).await;
    assert_eq!(json_with_status(inner, StatusCode::OK).await["bytes"], 10);
    let gone = restarted.metadata(&token, 1, "/gone.txt", &[("include_deleted", "true")]).await;
    assert_eq!(json_with_status(gone, StatusCode::OK).await["is_deleted"], true);
    let account =
        json_with_status(restarted.get("/1/account/info", &token, &[]).await, StatusCode::OK).await;
    assert_eq!(account["space_used"], 4 + 14 + 10);
    let reconciled: i64 = app
        .database()
        .query_row("SELECT COUNT(*) FROM activity WHERE action = 'root.reconcile'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(reconciled, 1);
    // The restarted app's own data_dir is an unused empty folder; `app` owns the real one.
    drop(app);
}
