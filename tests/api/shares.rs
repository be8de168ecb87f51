//! Share links: the owner's API and the visitor's side, through HTTP against the real server.

use std::io::Read;

use chrono::Duration;
use reqwest::header::{CONTENT_SECURITY_POLICY, COOKIE, LOCATION, RETRY_AFTER, SET_COOKIE};
use reqwest::{Response, StatusCode};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{TestApp, assert_error, json_with_status, spawn_app};
use crate::users::PASSWORD;

/// A user made through the API, signed in, with the id of their own sync root.
struct Person {
    id: i64,
    token: String,
    root: i64,
}

impl TestApp {
    async fn person(&self, admin: &str, username: &str) -> Person {
        let user = self.create_user_in(admin, username, "user", 1).await;
        let token = self.token_for(username, PASSWORD).await;
        let info =
            json_with_status(self.get("/1/account/info", &token, &[]).await, StatusCode::OK).await;
        let root = info["roots"][0]["id"].as_i64().expect("a sync root");
        Person { id: user["id"].as_i64().unwrap(), token, root }
    }

    async fn share(&self, owner: &Person, form: &[(&str, &str)]) -> Value {
        let root = owner.root.to_string();
        let mut all = vec![("root", root.as_str())];
        all.extend_from_slice(form);
        let response = self.post_form("/1/shares/create", &owner.token, &all).await;
        json_with_status(response, StatusCode::CREATED).await
    }

    async fn visit(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        let mut request = self.client.get(self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.expect("request sent")
    }

    fn activity_of(&self, action: &str) -> Vec<(Option<String>, Option<String>, Value)> {
        let conn = self.database();
        let mut statement = conn
            .prepare("SELECT path, ip, details FROM activity WHERE action = ?1 ORDER BY id")
            .unwrap();
        statement
            .query_map([action], |row| {
                let details: String = row.get(2)?;
                Ok((row.get(0)?, row.get(1)?, serde_json::from_str(&details).unwrap()))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// Sends raw bytes (no URL clean-up by a client library) and answers the status.
    async fn raw_status(&self, request: &str) -> u16 {
        let address = self.address.trim_start_matches("http://");
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).await.unwrap();
        let reply = String::from_utf8_lossy(&reply).into_owned();
        reply.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0)
    }
}

fn id_of(link: &Value) -> String {
    link["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn the_owner_creates_reads_lists_updates_and_deletes_a_link() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let alice = app.person(&admin, "alice").await;
    app.upload(&alice.token, alice.root, "/Docs/report.txt", "hello world").await;

    let link = app.share(&alice, &[("path", "/docs/report.txt"), ("download_limit", "5")]).await;

    let id = id_of(&link);
    assert_eq!(id.len(), 32, "128 random bits in hex: {link}");
    assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(link["url"], format!("{}/s/{id}", app.address));
    assert_eq!(link["root_id"], alice.root);
    assert_eq!(link["path"], "/Docs/report.txt", "the stored case is kept");
    assert_eq!(link["is_dir"], false);
    assert_eq!(link["created_by"], alice.id);
    assert_eq!(link["download_limit"], 5);
    assert_eq!(link["download_count"], 0);
    assert_eq!(link["has_password"], false);
    assert_eq!(link["allow_upload"], false);
    assert!(link["expires"].is_null());
    assert!(link.get("password_hash").is_none() && link.get("password").is_none());

    let read = json_with_status(
        app.get(&format!("/1/shares/{id}"), &alice.token, &[]).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(read["id"], id.as_str());

    let listed =
        json_with_status(app.get("/1/shares/", &alice.token, &[]).await, StatusCode::OK).await;
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["results"][0]["id"], id.as_str());

    let updated = json_with_status(
        app.post_form(
            &format!("/1/shares/update/{id}"),
            &alice.token,
            &[("password", "s3cret!"), ("expires", "2099-01-01"), ("download_limit", "")],
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(updated["has_password"], true);
    assert_eq!(updated["expires"], "2099-01-01T00:00:00Z");
    assert!(updated["download_limit"].is_null());
    let stored: String = app
        .database()
        .query_row("SELECT password_hash FROM share_links WHERE id = ?1", [&id], |row| row.get(0))
        .unwrap();
    assert!(stored.starts_with("$2"), "the password is kept as bcrypt");

    let cleared = json_with_status(
        app.post_form(&format!("/1/shares/update/{id}"), &alice.token, &[("password", "")]).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(cleared["has_password"], false, "an empty password removes it");

    let deleted = app.get(&format!("/1/shares/delete/{id}"), &alice.token, &[]).await;
    assert_eq!(json_with_status(deleted, StatusCode::OK).await["success"], true);
    let gone = app.get(&format!("/1/shares/{id}"), &alice.token, &[]).await;
    assert_error(gone, StatusCode::NOT_FOUND, "not_found", None).await;
    assert_eq!(app.visit(&format!("/s/{id}"), &[]).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.visit(&format!("/s/{id}/download"), &[]).await.status(), StatusCode::NOT_FOUND);

    for action in ["share.create", "share.update", "share.delete"] {
        let entries = app.activity_of(action);
        assert!(!entries.is_empty(), "no {action} entry");
        assert_eq!(entries[0].0.as_deref(), Some("/Docs/report.txt"));
    }
}

#[tokio::test]
async fn bad_parameters_and_policies_are_refused() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let alice = app.person(&admin, "alice").await;
    app.upload(&alice.token, alice.root, "/a.txt", "a").await;
    let root = alice.root.to_string();
    let create = |form: Vec<(&'static str, String)>| {
        let mut all = vec![("root", root.clone())];
        all.extend(form);
        let token = alice.token.clone();
        let app = &app;
        async move {
            let form: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.post_form("/1/shares/create", &token, &form).await
        }
    };

    let table = [
        (vec![("path", "/a.txt".to_string()), ("download_limit", "0".into())], "download_limit"),
        (vec![("path", "/a.txt".into()), ("download_limit", "x".into())], "download_limit"),
        (vec![("path", "/a.txt".into()), ("expires", "2001-01-01".into())], "future"),
        (vec![("path", "/a.txt".into()), ("expires", "tomorrow".into())], "RFC 3339"),
        (vec![("path", "/a.txt".into()), ("allow_upload", "true".into())], "folder"),
        (vec![("path", "/../a.txt".into())], "refused"),
        (vec![], "path"),
    ];
    for (form, needle) in table {
        let body = assert_error(
            create(form.clone()).await,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            None,
        )
        .await;
        assert!(body["message"].as_str().unwrap().contains(needle), "{form:?}: {body}");
    }
    let missing = create(vec![("path", "/nothing.txt".into())]).await;
    assert_error(missing, StatusCode::NOT_FOUND, "not_found", None).await;

    // A capped lifetime gives links without an expiry the longest one allowed.
    let policy = app.post_form("/1/policies/update", &admin, &[("share_link_max_days", "7")]).await;
    json_with_status(policy, StatusCode::OK).await;
    let capped =
        json_with_status(create(vec![("path", "/a.txt".into())]).await, StatusCode::CREATED).await;
    let expires = cloudsync::clock::parse_time(capped["expires"].as_str().unwrap()).unwrap();
    let days = (expires - app.clock.now()).num_hours();
    assert!((167..=168).contains(&days), "about seven days ahead: {capped}");
    let far = (app.clock.now() + Duration::days(30)).format("%Y-%m-%d").to_string();
    let too_far = create(vec![("path", "/a.txt".into()), ("expires", far)]).await;
    assert_error(too_far, StatusCode::BAD_REQUEST, "invalid_request", None).await;

    // Links turned off: no new links, and the existing ones stop answering.
    let off =
        app.post_form("/1/policies/update", &admin, &[("share_links_enabled", "false")]).await;
    json_with_status(off, StatusCode::OK).await;
    let refused = create(vec![("path", "/a.txt".into())]).await;
    assert_error(refused, StatusCode::FORBIDDEN, "forbidden", None).await;
    let visit = app.visit(&format!("/s/{}/download", id_of(&capped)), &[]).await;
    assert_eq!(visit.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn another_user_cannot_read_change_or_delete_a_link() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let alice = app.person(&admin, "alice").await;
    let bob = app.person(&admin, "bob").await;
    app.upload(&alice.token, alice.root, "/a.txt", "a").await;
    let id = id_of(&app.share(&alice, &[("path", "/a.txt")]).await);

    for path in [
        format!("/1/shares/{id}"),
        format!("/1/shares/update/{id}"),
        format!("/1/shares/delete/{id}"),
    ] {
        let response = app.post_form(&path, &bob.token, &[("download_limit", "1")]).await;
        assert_error(response, StatusCode::NOT_FOUND, "not_found", None).await;
    }
    let listed = app.get("/1/shares", &bob.token, &[("user_id", &alice.id.to_string())]).await;
    assert_error(listed, StatusCode::NOT_FOUND, "not_found", None).await;
    let own = json_with_status(app.get("/1/shares", &bob.token, &[]).await, StatusCode::OK).await;
    assert_eq!(own["total"], 0);
    // Bob cannot share Alice's files either: her root is invisible to him.
    let root = alice.root.to_string();
    let steal =
        app.post_form("/1/shares/create", &bob.token, &[("root", &root), ("path", "/a.txt")]).await;
    assert_error(steal, StatusCode::NOT_FOUND, "not_found", None).await;

    // The link is untouched, and the admin (who reaches Alice) sees it.
    let link = json_with_status(
        app.get(&format!("/1/shares/{id}"), &alice.token, &[]).await,
        StatusCode::OK,
    )
    .await;
    assert!(link["download_limit"].is_null());
    let by_admin = json_with_status(
        app.get("/1/shares", &admin, &[("user_id", &alice.id.to_string())]).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(by_admin["total"], 1);
    let by_org = json_with_status(
        app.get("/1/shares", &admin, &[("organization_id", "1")]).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(by_org["total"], 1);
}

#[tokio::test]
async fn the_page_shows_an_escaped_name_and_size_under_a_strict_policy() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let alice = app.person(&admin, "alice").await;
    let hostile = "<img src=x onerror=alert(1)> & \"quotes\".txt";
    let encoded: String = percent_encode(hostile);
    app.upload(&alice.token, alice.root, &format!("/{encoded}"), "hello world").await;
    let id = id_of(&app.share(&alice, &[("path", &format!("/{hostile}"))]).await);

    let response = app.visit(&format!("/s/{id}"), &[]).await;

    assert_eq!(response.status(), StatusCode::OK);
    let policy = response.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap().to_string();
    assert!(policy.contains("default-src 'none'") && !policy.contains("script-src"), "{policy}");
    let html = response.text().await.unwrap();
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt; &amp; &quot;quotes&quot;.txt"));
    assert!(!html.contains("<img"), "the name must not become markup: {html}");
    assert!(!html.contains("<script"), "no script at all");
    assert!(html.contains("11 bytes"), "{html}");
    assert!(html.contains(&format!("href=\"/s/{id}/download\"")), "{html}");
    assert!(html.contains("name=\"viewport\""));
    let css = app.visit("/s/_/share.css", &[]).await;
    assert_eq!(css.status(), StatusCode::OK);
    // The page view is logged but is not a download.
    assert_eq!(app.activity_of("share.access")[0].2["operation"], "view");
    let count: i64 = app
        .database()
        .query_row("SELECT download_count FROM share_links", [], |row| row.get(0))
        .unwrap();
    assert_eq!(count, 0);
}

fn percent_encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[tokio::test]
async fn a_password_is_proven_by_cookie_or_header_and_guessing_is_limited_per_address() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let alice = app.person(&admin, "alice").await;
    app.upload(&alice.token, alice.root, "/a.txt", "secret bytes").await;
    app.upload(&alice.token, alice.root, "/b.txt", "other bytes").await;
    let id = id_of(&app.share(&alice, &[("path", "/a.txt"), ("password", "open sesame")]).await);
    let other = id_of(&app.share(&alice, &[("path", "/b.txt"), ("password", "open sesame")]).await);
    let no_redirects =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();

    let page = app.visit(&format!("/s/{id}"), &[]).await;
    assert_eq!(page.status(), StatusCode::UNAUTHORIZED);
    assert!(page.text().await.unwrap().contains("type=\"password\""));
    assert_eq!(app.visit(&format!("/s/{id}/download"), &[]).await.status(), 401);
    let wrong = app.visit(&format!("/s/{id}/download"), &[("x-share-password", "nope")]).await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let right =
        app.visit(&format!("/s/{id}/download"), &[("x-share-password", "open sesame")]).await;
    assert_eq!(right.status(), StatusCode::OK);
    assert_eq!(right.text().await.unwrap(), "secret bytes");

    let unlocked = no_redirects
        .post(app.url(&format!("/s/{id}")))
        .form(&[("password", "open sesame")])
        .send()
        .await
        .unwrap();
    assert_eq!(unlocked.status(), StatusCode::SEE_OTHER);
    assert_eq!(unlocked.headers()[LOCATION], format!("/s/{id}").as_str());
    let set_cookie = unlocked.headers()[SET_COOKIE].to_str().unwrap().to_string();
    assert!(set_cookie.contains(&format!("Path=/s/{id}")), "{set_cookie}");
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"));
    let cookie = set_cookie.split(';').next().unwrap().to_string();

    let page = app.visit(&format!("/s/{id}"), &[(COOKIE.as_str(), &cookie)]).await;
    assert_eq!(page.status(), StatusCode::OK);
    let download = app.visit(&format!("/s/{id}/download"), &[(COOKIE.as_str(), &cookie)]).await;
    assert_eq!(download.text().await.unwrap(), "secret bytes");
    let elsewhere = app.visit(&format!("/s/{other}/download"), &[(COOKIE.as_str(), &cookie)]).await;
    assert_eq!(elsewhere.status(), StatusCode::UNAUTHORIZED, "a cookie opens one link only");

    // Guessing from one address locks that address out of this link only.
    let wrong_page = app
        .client
        .post(app.url(&format!("/s/{id}")))
        .form(&[("password", "guess")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_page.status(), StatusCode::UNAUTHORIZED);
    let mut last = StatusCode::OK;
    for _ in 0..5 {
        last = app
            .visit(&format!("/s/{id}/download"), &[("x-share-password", "guess")])
            .await
            .status();
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    let locked =
        app.visit(&format!("/s/{id}/download"), &[("x-share-password", "open sesame")]).await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(locked.headers().get(RETRY_AFTER).is_some());
    let other_link =
        app.visit(&format!("/s/{other}/download"), &[("x-share-password", "open sesame")]).await;
    assert_eq!(other_link.status(), StatusCode::OK, "other links are not locked");
    let elsewhere_client = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    let from_elsewhere = elsewhere_client
        .get(app.url(&format!("/s/{id}/download")))
        .header("x-share-password", "open sesame")
        .send()
        .await
        .unwrap();
    assert_eq!(from_elsewhere.status(), StatusCode::OK, "another address still gets in");
}

#[tokio::test]
async fn twelve_concurrent_downloads_of_a_link_limited_to_three_give_exactly_three() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let alice = app.person(&admin, "alice").await;
    app.upload(&alice.token, alice.root, "/a.txt", "limited").await;
    let id = id_of(&app.share(&alice, &[("path", "/a.txt"), ("download_limit", "3")]).await);
    let url = app.url(&format!("/s/{id}/download"));

    let requests = (0..12).map(|_| {
        let client = app.client.clone();
        let url = url.clone();
        tokio::spawn(async move { client.get(url).send().await.unwrap().status() })
    });
    let statuses: Vec<StatusCode> =
        futures_util::future::join_all(requests).await.into_iter().map(Result::unwrap).collect();

    let ok = statuses.iter().filter(|status| **status == StatusCode::OK).count();
    let gone = statuses.iter().filter(|status| **status == StatusCode::GONE).count();
    assert_eq!((ok, gone), (3, 9), "{statuses:?}");
    let count: i64 = app
        .database()
        .query_row("SELECT download_count FROM share_links WHERE id = ?1", [&id], |row| row.get(0))
        .unwrap();
    assert_eq!(count, 3);
    let accesses = app.activity_of("share.access");
    assert_eq!(accesses.len(), 3, "one entry per granted download");
    assert_eq!(accesses[0].0.as_deref(), Some("/a.txt"));
    assert_eq!(accesses[0].1.as_deref(), Some("127.0.0.1"));
    assert_eq!(accesses[0].2["bytes"], 7);
    assert_eq!(accesses[0].2["link"], &id[..8]);
    assert_eq!(app.visit(&format!("/s/{id}"), &[]).await.status(), StatusCode::GONE);
}

#[tokio::test]
async fn an_expired_link_answers_gone() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let alice = app.person(&admin, "alice").await;
    app.upload(&alice.token, alice.root, "/a.txt", "a").await;
    let tomorrow = cloudsync::clock::format_time(app.clock.now() + Duration::days(1));
    let id = id_of(&app.share(&alice, &[("path", "/a.txt"), ("expires", &tomorrow)]).await);
    let part = app.visit(&format!("/s/{id}/download"), &[("range", "bytes=0-0")]).await;
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT, "downloads take a Range");
    assert_eq!(part.text().await.unwrap(), "a");

    app.advance_clock(Duration::days(2));

    assert_eq!(app.visit(&format!("/s/{id}"), &[]).await.status(), StatusCode::GONE);
    let download = app.visit(&format!("/s/{id}/download"), &[]).await;
    assert_error(download, StatusCode::GONE, "gone", None).await;
}

#[tokio::test]
async fn a_folder_link_lists_its_files_and_streams_them_as_a_zip() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let alice = app.person(&admin, "alice").await;
    app.upload(&alice.token, alice.root, "/Photos/one.txt", "first file").await;
    app.upload(&alice.token, alice.root, "/Photos/Trip/two 2.txt", "second file").await;
    app.upload(&alice.token, alice.root, "/outside.txt", "not shared").await;
    app.upload(&alice.token, alice.root, "/Photos/pic.png", "png bytes").await;
    let big: Vec<u8> = (0..300_000u32).map(|n| (n % 251) as u8).collect();
    let put = app.put_file(&alice.token, alice.root, "/Photos/big.bin", big.clone(), &[]).await;
    assert_eq!(put.status(), StatusCode::CREATED);
    let id = id_of(&app.share(&alice, &[("path", "/Photos")]).await);

    let page = app.visit(&format!("/s/{id}"), &[]).await.text().await.unwrap();
    assert!(page.contains("4 files"), "{page}");
    assert!(page.contains(&format!("href=\"/s/{id}/download/Trip/two%202.txt\"")), "{page}");
    assert!(page.contains(&format!("href=\"/s/{id}/zip\"")));
    assert!(!page.contains("outside.txt"));
    assert!(!page.contains("<form"), "no upload form without allow_upload");
    let inner = app.visit(&format!("/s/{id}/download/Trip/two%202.txt"), &[]).await;
    assert_eq!(inner.text().await.unwrap(), "second file");

    let response = app.visit(&format!("/s/{id}/zip"), &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/zip");
    let bytes = response.bytes().await.unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut names: Vec<String> =
        archive.file_names().map(|name| name.unwrap().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["Trip/two 2.txt", "big.bin", "one.txt", "pic.png"]);
    let stored = archive.by_name("pic.png").unwrap().compression();
    assert_eq!(stored, zip::CompressionMethod::Stored, "compressed kinds are not deflated again");
    let deflated = archive.by_name("big.bin").unwrap().compression();
    assert_eq!(deflated, zip::CompressionMethod::Deflated);
    let mut read = |name: &str| {
        let mut content = Vec::new();
        archive.by_name(name).unwrap().read_to_end(&mut content).unwrap();
        content
    };
    assert_eq!(read("one.txt"), b"first file");
    assert_eq!(read("Trip/two 2.txt"), b"second file");
    assert_eq!(read("big.bin"), big);
    assert_eq!(read("pic.png"), b"png bytes");

    let accesses = app.activity_of("share.access");
    let zip_entry = accesses.iter().find(|entry| entry.2["operation"] == "zip").unwrap();
    assert_eq!(zip_entry.0.as_deref(), Some("/Photos"));
    assert_eq!(zip_entry.2["bytes"], 10 + 11 + 9 + 300_000);
    // A file link has no ZIP, and a folder link's file must be named.
    let folder_download = app.visit(&format!("/s/{id}/download"), &[]).await;
    assert_eq!(folder_download.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn paths_cannot_leave_the_shared_folder() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let alice = app.person(&admin, "alice").await;
    app.upload(&alice.token, alice.root, "/Public/inner.txt", "inner").await;
    app.upload(&alice.token, alice.root, "/secret.txt", "secret").await;
    let id = id_of(&app.share(&alice, &[("path", "/Public")]).await);

    for path in [
        "../secret.txt",
        "%2e%2e/secret.txt",
        "%2E%2E/secret.txt",
        "inner.txt%2f..%2f..%2fsecret.txt",
        "..%5csecret.txt",
        "%252e%252e/secret.txt",
        "a%00b",
    ] {
        let request = format!(
            "GET /s/{id}/download/{path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
        );
        let status = app.raw_status(&request).await;
        assert!(status == 400 || status == 404, "{path} answered {status}");
    }
    let missing = app.visit(&format!("/s/{id}/download/secret.txt"), &[]).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let fine = app.visit(&format!("/s/{id}/download/inner.txt"), &[]).await;
    assert_eq!(fine.text().await.unwrap(), "inner");
    let granted: i64 = app
        .database()
        .query_row("SELECT download_count FROM share_links", [], |row| row.get(0))
        .unwrap();
    assert_eq!(granted, 1, "refused paths count nothing");
}

#[tokio::test]
async fn visitors_add_files_without_overwriting_and_within_quota() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let alice = app.person(&admin, "alice").await;
    app.upload(&alice.token, alice.root, "/Drop/report.txt", "original").await;
    let id = id_of(&app.share(&alice, &[("path", "/Drop"), ("allow_upload", "true")]).await);
    let no_redirects =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let form = || {
        reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(b"from a visitor".to_vec()).file_name("report.txt"),
        )
    };

    let page = app.visit(&format!("/s/{id}"), &[]).await.text().await.unwrap();
    assert!(page.contains(&format!("action=\"/s/{id}/upload\"")), "{page}");
    let sent = no_redirects
        .post(app.url(&format!("/s/{id}/upload")))
        .header("accept", "text/html")
        .multipart(form())
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), StatusCode::SEE_OTHER, "a browser goes back to the page");
    assert_eq!(sent.headers()[LOCATION], format!("/s/{id}").as_str());
    let scripted = app.client.post(app.url(&format!("/s/{id}/upload"))).multipart(form());
    let body = json_with_status(scripted.send().await.unwrap(), StatusCode::CREATED).await;
    assert_eq!(body["results"][0]["name"], "report (2).txt");

    let original = app.fetch(&alice.token, alice.root, "/Drop/report.txt").await;
    assert_eq!(original.text().await.unwrap(), "original");
    let copy = app.fetch(&alice.token, alice.root, "/Drop/report (1).txt").await;
    assert_eq!(copy.text().await.unwrap(), "from a visitor");
    let on_disk = app.root_folder(alice.root).join("Drop/report (1).txt");
    assert_eq!(std::fs::read_to_string(on_disk).unwrap(), "from a visitor");
    let uploads = app.activity_of("share.access");
    assert!(uploads.iter().any(|e| e.2["operation"] == "upload"
        && e.0.as_deref() == Some("/Drop/report (1).txt")
        && e.2["bytes"] == 14));

    // Quotas apply to visitors too.
    let quota =
        app.get(&format!("/1/roots/update/{}", alice.root), &admin, &[("space_quota", "40")]).await;
    json_with_status(quota, StatusCode::OK).await;
    let full = app.client.post(app.url(&format!("/s/{id}/upload"))).multipart(form());
    assert_error(
        full.send().await.unwrap(),
        StatusCode::INSUFFICIENT_STORAGE,
        "quota_exceeded",
        None,
    )
    .await;

    // A link without allow_upload takes nothing.
    let closed = id_of(&app.share(&alice, &[("path", "/Drop")]).await);
    let refused = app.client.post(app.url(&format!("/s/{closed}/upload"))).multipart(form());
    assert_error(refused.send().await.unwrap(), StatusCode::FORBIDDEN, "forbidden", None).await;
}

#[tokio::test]
async fn a_big_folder_page_counts_every_file_and_lists_the_first_thousand() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let alice = app.person(&admin, "alice").await;
    let mut form = reqwest::multipart::Form::new();
    for n in 0..1003 {
        let part = reqwest::multipart::Part::bytes(vec![b'x']).file_name(format!("f{n:04}.txt"));
        form = form.part("file", part);
    }
    let stored = app
        .client
        .post(app.url(&format!("/1/files/{}/Big", alice.root)))
        .bearer_auth(&alice.token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(json_with_status(stored, StatusCode::CREATED).await["total"], 1003);
    // Neither a folder nor a deleted file counts.
    let root = alice.root.to_string();
    let deleted =
        app.fileop(&alice.token, "delete", &[("root", &root), ("path", "/Big/f0000.txt")]).await;
    json_with_status(deleted, StatusCode::OK).await;
    let made =
        app.fileop(&alice.token, "create_folder", &[("root", &root), ("path", "/Big/Sub")]).await;
    json_with_status(made, StatusCode::CREATED).await;
    let id = id_of(&app.share(&alice, &[("path", "/Big")]).await);

    let page = app.visit(&format!("/s/{id}"), &[]).await.text().await.unwrap();
    assert!(page.contains("Folder · 1002 files"), "{page}");
    assert_eq!(page.matches("<li>").count(), 1000);
    assert!(!page.contains("f0000.txt"), "a deleted file is not listed");
    assert!(page.contains("f0001.txt") && page.contains("f1000.txt"));
    assert!(!page.contains("f1001.txt"), "the first thousand by name are listed");
    assert!(page.contains("2 more files are in the ZIP."), "{page}");
}

#[tokio::test]
async fn deleting_the_maker_removes_their_links() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let alice = app.person(&admin, "alice").await;
    app.upload(&alice.token, alice.root, "/a.txt", "a").await;
    let id = id_of(&app.share(&alice, &[("path", "/a.txt")]).await);

    let deleted = app.get(&format!("/1/user/delete/{}", alice.id), &admin, &[]).await;
    json_with_status(deleted, StatusCode::OK).await;

    assert_eq!(app.visit(&format!("/s/{id}"), &[]).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_link_stops_working_while_its_maker_is_suspended() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let alice = app.person(&admin, "alice").await;
    app.upload(&alice.token, alice.root, "/a.txt", "a").await;
    let id = id_of(&app.share(&alice, &[("path", "/a.txt")]).await);
    let update = format!("/1/user/update/{}", alice.id);

    json_with_status(app.get(&update, &admin, &[("active", "false")]).await, StatusCode::OK).await;
    assert_eq!(app.visit(&format!("/s/{id}/download"), &[]).await.status(), 404);

    json_with_status(app.get(&update, &admin, &[("active", "true")]).await, StatusCode::OK).await;
    assert_eq!(app.visit(&format!("/s/{id}/download"), &[]).await.status(), 200);
}

#[tokio::test]
async fn a_visitor_file_name_with_slashes_is_refused() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let alice = app.person(&admin, "alice").await;
    app.create_folder_for(&alice, "/Drop").await;
    let id = id_of(&app.share(&alice, &[("path", "/Drop"), ("allow_upload", "true")]).await);

    for name in ["../escape.txt", "../../../escape.txt", "sub/inner.txt", "/abs.txt"] {
        let form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(b"x".to_vec()).file_name(name.to_string()),
        );
        let sent = app.client.post(app.url(&format!("/s/{id}/upload"))).multipart(form);
        let status = sent.send().await.unwrap().status();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}");
    }
    // The API's own form upload reads file names the same way.
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"x".to_vec()).file_name("../../../escape.txt"),
    );
    let url = app.url(&format!("/1/files/{}/Drop", alice.root));
    let sent = app.client.post(url).bearer_auth(&alice.token).multipart(form);
    assert_eq!(sent.send().await.unwrap().status(), StatusCode::BAD_REQUEST);
    let root_folder = app.root_folder(alice.root);
    assert!(!root_folder.join("escape.txt").exists());
    assert!(!root_folder.join("../escape.txt").exists());
    assert!(!app.data_dir.path().join("roots/escape.txt").exists());
    assert!(!app.data_dir.path().join("escape.txt").exists());
}

impl TestApp {
    async fn create_folder_for(&self, person: &Person, path: &str) {
        let root = person.root.to_string();
        let response = self
            .post_form(
                "/1/fileops/create_folder",
                &person.token,
                &[("root", &root), ("path", path)],
            )
            .await;
        json_with_status(response, StatusCode::CREATED).await;
    }
}
