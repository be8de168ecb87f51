//! The error convention for everything the server can receive.

use reqwest::{Method, StatusCode};

use crate::helpers::{assert_error, json_with_status, spawn_app};

#[tokio::test]
async fn unknown_routes_answer_json_404() {
    let app = spawn_app().await;
    for path in ["/", "/nothing", "/1/", "/1/no/such/endpoint/", "/2/account/info"] {
        let response = app.raw(Method::GET, path).await;
        assert_error(response, StatusCode::NOT_FOUND, "not_found", None).await;
    }
}

#[tokio::test]
async fn wrong_methods_answer_json_405() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    for (method, path, allow) in [
        (Method::PUT, "/1/account/info", "GET, POST"),
        (Method::DELETE, "/1/policies/", "GET, POST"),
        (Method::PATCH, "/1/policies/update", "GET, POST"),
        (Method::GET, "/1/files_put/1/a.txt", "PUT, POST"),
        (Method::DELETE, "/1/chunked_upload", "PUT, POST"),
    ] {
        let response = app.client.request(method, app.url(path)).bearer_auth(&token).send().await;
        let response = response.unwrap();
        assert_eq!(response.headers()["allow"], allow, "{path}");
        assert_error(response, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", None).await;
    }
}

#[tokio::test]
async fn a_trailing_slash_is_optional() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    for path in ["/1/account/info", "/1/account/info/", "/1/policies", "/1/policies/"] {
        json_with_status(app.get(path, &token, &[]).await, StatusCode::OK).await;
    }
}

#[tokio::test]
async fn malformed_query_strings_and_invalid_utf8_answer_400() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    for query in ["a=%zz", "a=%4", "a=%FF%FE", "%C3=1", "session_token=%"] {
        let response = app
            .client
            .get(format!("{}?{query}", app.url("/1/account/info")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_request", None).await;
    }

    let response = app
        .client
        .post(app.url("/1/auth"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(b"username=adm%FFin&password=x".to_vec())
        .send()
        .await
        .unwrap();
    let body = assert_error(response, StatusCode::BAD_REQUEST, "invalid_request", None).await;
    assert!(body["message"].as_str().unwrap().contains("username"), "{body}");
}

#[tokio::test]
async fn an_oversize_form_answers_413() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let big = "x".repeat(2 * 1024 * 1024);

    let response = app.post_form("/1/account/info", &token, &[("padding", &big)]).await;
    assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "too_large", None).await;

    let form = reqwest::multipart::Form::new().text("padding", big);
    let response = app.client.post(app.url("/1/auth")).multipart(form).send().await.unwrap();
    assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "too_large", None).await;
}

#[tokio::test]
async fn a_broken_multipart_body_answers_400() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/1/auth"))
        .header("Content-Type", "multipart/form-data; boundary=XYZ")
        .body("--XYZ\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nadmin\r\n--XY")
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_request", None).await;
}

#[tokio::test]
async fn every_answer_carries_a_request_id() {
    let app = spawn_app().await;
    let ok = app.sign_in("admin", crate::helpers::ADMIN_PASSWORD).await;
    let missing = app.raw(Method::GET, "/nowhere").await;
    let first = ok.headers()["x-request-id"].to_str().unwrap().to_string();
    let second = missing.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(first.len(), 16);
    assert_ne!(first, second);
}

#[tokio::test]
async fn hostile_sign_in_bodies_never_get_a_500() {
    let app = spawn_app().await;
    let long_name = "n".repeat(100_000);
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("application/x-www-form-urlencoded", b"&&&===&".to_vec()),
        (
            "application/x-www-form-urlencoded",
            format!("username={long_name}&password=p").into_bytes(),
        ),
        ("application/x-www-form-urlencoded", b"username=%00admin&password=%00".to_vec()),
        ("application/json", br#"{"username":"admin"}"#.to_vec()),
        ("text/plain", vec![0xff, 0xfe, 0x00]),
        ("multipart/form-data", b"no boundary".to_vec()),
    ];
    for (content_type, body) in bodies {
        let response = app
            .client
            .post(app.url("/1/auth"))
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert!(status.is_client_error(), "{content_type}: {status}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["success"], false);
    }
}
