//! Chunked upload behaviour found wrong by the `chunked_upload` fuzz target or while writing
//! it, written down as plain requests. A test here that is ignored describes the right
//! behaviour and fails until the server is fixed; the reason in `#[ignore]` says what is wrong.

use reqwest::StatusCode;

use crate::helpers::{json_with_status, spawn_app};

/// FOUND BY FUZZING: `PUT /1/chunked_upload/` reads `upload_id` exactly as sent, while
/// `commit_chunked_upload` trims it, so `upload_id=%20<id>%20` is unknown (404) to the next
/// chunk but commits fine. Numbers and flags are read trimmed everywhere; the id should be too.
#[tokio::test]
#[ignore = "fuzz finding: a chunk does not trim upload_id, unlike a commit; fails until fixed"]
async fn a_chunk_reads_a_padded_upload_id_as_a_commit_does() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let chunk = |query: Vec<(&'static str, String)>, body: &'static str| {
        app.client
            .put(app.url("/1/chunked_upload/"))
            .bearer_auth(&token)
            .query(&query)
            .body(body)
            .send()
    };

    let first = json_with_status(chunk(vec![], "abc").await.unwrap(), StatusCode::OK).await;
    let id = first["upload_id"].as_str().unwrap().to_string();
    let padded = format!(" {id} ");

    // The commit side already reads the padded id (shown on a second upload, so that the first
    // one stays open for the chunk below).
    let other = json_with_status(chunk(vec![], "xyz").await.unwrap(), StatusCode::OK).await;
    let other_padded = format!(" {} ", other["upload_id"].as_str().unwrap());
    let committed = app
        .post_form("/1/commit_chunked_upload/1/padded.txt", &token, &[("upload_id", &other_padded)])
        .await;
    json_with_status(committed, StatusCode::CREATED).await;

    let next = chunk(vec![("upload_id", padded), ("offset", "3".into())], "def").await.unwrap();
    let next = json_with_status(next, StatusCode::OK).await;
    assert_eq!(next["offset"], 6);
    assert_eq!(next["upload_id"], id.as_str());
}

/// FOUND WHILE WRITING THE FUZZ TARGET (its calls are sequential; this needs two at once):
/// two commits of one upload sent together both succeed, storing the upload twice, because
/// the upload is looked up, stored and removed in separate steps; and when the first commit
/// removes the upload's bytes before the second one reads them, the second answers 500. One
/// commit should win with 201 and the other answer 404.
#[tokio::test]
#[ignore = "found with concurrent requests: an upload can be committed twice; fails until fixed"]
async fn two_commits_of_one_upload_at_once_store_it_once() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    for round in 0..20 {
        let started = app
            .client
            .put(app.url("/1/chunked_upload/"))
            .bearer_auth(&token)
            .body("abcd")
            .send()
            .await
            .unwrap();
        let started = json_with_status(started, StatusCode::OK).await;
        let id = started["upload_id"].as_str().unwrap().to_string();
        let first_path = format!("/1/commit_chunked_upload/1/twice/{round}-a.txt");
        let second_path = format!("/1/commit_chunked_upload/1/twice/{round}-b.txt");
        let form = [("upload_id", id.as_str())];
        let (first, second) = tokio::join!(
            app.post_form(&first_path, &token, &form),
            app.post_form(&second_path, &token, &form)
        );
        let mut statuses = [first.status().as_u16(), second.status().as_u16()];
        statuses.sort_unstable();
        assert_eq!(statuses, [201, 404], "round {round}: one commit wins, the other finds none");
    }
}
