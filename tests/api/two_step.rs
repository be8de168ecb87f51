//! Two-step sign-in: codes by email (through a real SMTP server) and SMS (through a real
//! webhook or the outbox), authenticator codes, and the rules around them.

use std::time::Instant;

use chrono::Duration;
use cloudsync::config::Config;
use cloudsync::domain::two_step::authenticator_setup;
use cloudsync::notify::Notifier;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{assert_error, json_with_status, spawn_app, spawn_app_with};
use crate::two_step_kit::{
    MailServer, MailTls, SmsWebhook, TestAuthority, assert_code_requested, base32_decode,
    closed_port, code_in, silent_server, totp,
};

const INVALID_CODE: &str = "Invalid authentication code.";
const LOCKED: &str = "Account temporarily locked due to repeated failed login attempts.";

#[test]
fn the_tests_own_totp_generator_matches_rfc_6238() {
    // RFC 6238 appendix B, SHA-1 rows; six-digit codes are the last six of the eight shown.
    let secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    assert_eq!(base32_decode(secret), b"12345678901234567890");
    let vectors = [
        (59, "94287082"),
        (1_111_111_109, "07081804"),
        (1_111_111_111, "14050471"),
        (1_234_567_890, "89005924"),
        (2_000_000_000, "69279037"),
        (20_000_000_000, "65353130"),
    ];
    for (time, eight_digits) in vectors {
        assert_eq!(totp(secret, time), eight_digits[2..], "T = {time}");
    }
}

#[tokio::test]
async fn an_emailed_code_signs_in_once_and_is_stored_only_as_a_hash() {
    let mut smtp = MailServer::start().await;
    let url = smtp.plain_url();
    let app = spawn_app_with(|config| {
        config.smtp_url = Some(url);
        config.mail_from = "CloudSync <cloudsync@office.test>".into();
    })
    .await;
    app.seed_two_step_user("gina", "email", Some("gina@office.test"), None, None);

    assert_code_requested(app.sign_in_step("gina", None).await, "email").await;
    let mail = smtp.next_mail().await;
    assert_eq!(mail.from, "cloudsync@office.test");
    assert_eq!(mail.to, ["gina@office.test"]);
    assert!(mail.data.contains("Subject: Your CloudSync sign-in code"), "{}", mail.data);
    let code = code_in(&mail.data);

    let conn = app.database();
    let stored: String =
        conn.query_row("SELECT code_hash FROM auth_codes", [], |r| r.get(0)).unwrap();
    assert_ne!(stored, code);
    assert_eq!(stored.len(), 64, "a SHA-256 in hex");
    drop(conn);

    // Still valid near the end of its ten minutes.
    app.advance_clock(Duration::minutes(9));
    let body = json_with_status(app.sign_in_step("gina", Some(&code)).await, StatusCode::OK).await;
    let token = body["session_token"].as_str().unwrap();
    json_with_status(app.get("/1/account/info", token, &[]).await, StatusCode::OK).await;

    let again = app.sign_in_step("gina", Some(&code)).await;
    assert_error(again, StatusCode::UNAUTHORIZED, "access_denied", Some(INVALID_CODE)).await;

    let activity = app.auth_activity();
    let actions: Vec<&str> = activity.iter().map(|(action, _)| action.as_str()).collect();
    assert_eq!(actions, ["auth.code_issued", "auth.login", "auth.failed"]);
    assert_eq!(activity[0].1["step"], "password");
    assert_eq!(activity[0].1["channel"], "email");
    assert_eq!(activity[1].1["step"], "code");
    assert_eq!(activity[1].1["channel"], "email");
    assert_eq!(activity[2].1["step"], "code");
    assert_eq!(activity[2].1["channel"], "email");
    assert_eq!(activity[2].1["reason"], "no live code");
}

#[tokio::test]
async fn each_password_without_a_code_sends_a_new_code_that_replaces_the_last() {
    let mut smtp = MailServer::start().await;
    let url = smtp.plain_url();
    let app = spawn_app_with(|config| config.smtp_url = Some(url)).await;
    app.seed_two_step_user("hal", "email", Some("hal@office.test"), None, None);

    assert_code_requested(app.sign_in_step("hal", None).await, "email").await;
    let first = code_in(&smtp.next_mail().await.data);
    // An empty auth_code, as a form with an empty field sends, asks for a new code too.
    assert_code_requested(app.sign_in_step("hal", Some(" ")).await, "email").await;
    let second = code_in(&smtp.next_mail().await.data);

    if first != second {
        let old = app.sign_in_step("hal", Some(&first)).await;
        assert_error(old, StatusCode::UNAUTHORIZED, "access_denied", Some(INVALID_CODE)).await;
    }
    json_with_status(app.sign_in_step("hal", Some(&second)).await, StatusCode::OK).await;
}

#[tokio::test]
async fn a_code_expires_after_ten_minutes() {
    let mut smtp = MailServer::start().await;
    let url = smtp.plain_url();
    let app = spawn_app_with(|config| config.smtp_url = Some(url)).await;
    app.seed_two_step_user("ida", "email", Some("ida@office.test"), None, None);

    assert_code_requested(app.sign_in_step("ida", None).await, "email").await;
    let code = code_in(&smtp.next_mail().await.data);
    app.advance_clock(Duration::minutes(10) + Duration::seconds(1));

    let late = app.sign_in_step("ida", Some(&code)).await;
    assert_error(late, StatusCode::UNAUTHORIZED, "access_denied", Some(INVALID_CODE)).await;
}

#[tokio::test]
async fn a_code_dies_after_five_wrong_tries() {
    let mut smtp = MailServer::start().await;
    let url = smtp.plain_url();
    let app = spawn_app_with(|config| config.smtp_url = Some(url)).await;
    // Raised so that the lockout does not hide the rule of the code itself.
    app.set_policy("max_failed_logins", 50);
    app.seed_two_step_user("jon", "email", Some("jon@office.test"), None, None);

    assert_code_requested(app.sign_in_step("jon", None).await, "email").await;
    let code = code_in(&smtp.next_mail().await.data);
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
    for attempt in 1..=5 {
        let response = app.sign_in_step("jon", Some(&wrong)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "wrong try {attempt}");
    }

    let right_but_dead = app.sign_in_step("jon", Some(&code)).await;
    assert_error(right_but_dead, StatusCode::UNAUTHORIZED, "access_denied", Some(INVALID_CODE))
        .await;

    // A new code works again.
    assert_code_requested(app.sign_in_step("jon", None).await, "email").await;
    let fresh = code_in(&smtp.next_mail().await.data);
    json_with_status(app.sign_in_step("jon", Some(&fresh)).await, StatusCode::OK).await;
}

#[tokio::test]
async fn wrong_codes_count_toward_the_lockout_like_wrong_passwords() {
    let mut smtp = MailServer::start().await;
    let url = smtp.plain_url();
    let app = spawn_app_with(|config| config.smtp_url = Some(url)).await;
    app.seed_two_step_user("kim", "email", Some("kim@office.test"), None, None);

    assert_code_requested(app.sign_in_step("kim", None).await, "email").await;
    let code = code_in(&smtp.next_mail().await.data);
    let guesses = ["000000", "111111", "222222", "333333", "444444", "555555"];
    for guess in guesses.into_iter().filter(|guess| *guess != code).take(5) {
        let response = app.sign_in_step("kim", Some(guess)).await;
        assert_error(response, StatusCode::UNAUTHORIZED, "access_denied", Some(INVALID_CODE)).await;
    }
    let from_a_locked_name = app.sign_in_step("kim", Some(&code)).await;
    assert_error(
        from_a_locked_name,
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_requests",
        Some(LOCKED),
    )
    .await;
}

#[tokio::test]
async fn mail_server_down_answers_503_at_once_and_leaves_no_usable_code() {
    let port = closed_port().await;
    let app =
        spawn_app_with(|config| config.smtp_url = Some(format!("smtp+plain://127.0.0.1:{port}")))
            .await;
    app.seed_two_step_user("lea", "email", Some("lea@office.test"), None, None);

    let started = Instant::now();
    let response = app.sign_in_step("lea", None).await;
    let elapsed = started.elapsed();

    let body = assert_error(response, StatusCode::SERVICE_UNAVAILABLE, "unavailable", None).await;
    assert!(body["message"].as_str().unwrap().contains("could not be sent by email"), "{body}");
    assert!(elapsed.as_secs_f64() < 3.0, "took {elapsed:?}");
    assert_eq!(app.stored_code_count(), 0, "the undelivered code is gone");
    let activity = app.auth_activity();
    let last = activity.last().unwrap();
    assert_eq!(last.0, "auth.code_failed");
    assert_eq!(last.1["channel"], "email");
}

#[tokio::test]
async fn a_mail_server_that_never_answers_fails_within_the_delivery_timeout() {
    let port = silent_server().await;
    let app = spawn_app_with(|config| {
        config.smtp_url = Some(format!("smtp+plain://127.0.0.1:{port}"));
        config.delivery_timeout_seconds = 1;
    })
    .await;
    app.seed_two_step_user("max", "email", Some("max@office.test"), None, None);

    let started = Instant::now();
    let response = app.sign_in_step("max", None).await;
    let elapsed = started.elapsed();

    assert_error(response, StatusCode::SERVICE_UNAVAILABLE, "unavailable", None).await;
    assert!(elapsed.as_secs_f64() < 4.0, "took {elapsed:?}");
    assert_eq!(app.stored_code_count(), 0);
}

#[tokio::test]
async fn smtp_with_opportunistic_tls_and_credentials_delivers_to_a_server_without_starttls() {
    let mut smtp = MailServer::start_with(Some(("office@office.test", "p@ss:word"))).await;
    let port = smtp.port;
    let app = spawn_app_with(|config| {
        // smtp:// switches to TLS only when offered; this server offers no STARTTLS.
        config.smtp_url =
            Some(format!("smtp://office%40office.test:p%40ss%3Aword@127.0.0.1:{port}"));
    })
    .await;
    app.seed_two_step_user("ned", "email", Some("ned@office.test"), None, None);

    assert_code_requested(app.sign_in_step("ned", None).await, "email").await;
    let code = code_in(&smtp.next_mail().await.data);
    json_with_status(app.sign_in_step("ned", Some(&code)).await, StatusCode::OK).await;
}

#[tokio::test]
async fn wrong_smtp_credentials_or_tls_against_a_plain_server_answer_503() {
    let mut smtp = MailServer::start_with(Some(("office", "right"))).await;
    let port = smtp.port;
    let wrong_password = spawn_app_with(|c| {
        c.smtp_url = Some(format!("smtp+plain://office:wrong@127.0.0.1:{port}"))
    })
    .await;
    let tls_first =
        spawn_app_with(|c| c.smtp_url = Some(format!("smtps://127.0.0.1:{port}"))).await;

    for app in [&wrong_password, &tls_first] {
        app.seed_two_step_user("olga", "email", Some("olga@office.test"), None, None);
        let response = app.sign_in_step("olga", None).await;
        assert_error(response, StatusCode::SERVICE_UNAVAILABLE, "unavailable", None).await;
        assert_eq!(app.stored_code_count(), 0);
    }
    assert!(!smtp.has_unread_mail());
}

#[tokio::test]
async fn mail_goes_over_starttls_and_tls_to_a_server_of_the_offices_own_authority() {
    let authority = TestAuthority::new();
    let ca_dir = tempfile::tempdir().unwrap();
    let ca_file = ca_dir.path().join("office-ca.pem");
    std::fs::write(&ca_file, &authority.ca_pem).unwrap();

    for (tls, scheme) in [(MailTls::StartTls, "smtp"), (MailTls::Wrapper, "smtps")] {
        // The login is only offered once the session is protected.
        let login = Some(("office", "p@ss:word"));
        let mut smtp = MailServer::start_secured(login, tls, Some(&authority)).await;
        let url = smtp.url(scheme).replace("://", "://office:p%40ss%3Aword@");
        let (trusting_url, trusted) = (url.clone(), ca_file.clone());
        let app = spawn_app_with(move |c| {
            c.smtp_url = Some(trusting_url);
            c.smtp_ca_file = Some(trusted);
        })
        .await;
        app.seed_two_step_user("rita", "email", Some("rita@office.test"), None, None);
        assert_code_requested(app.sign_in_step("rita", None).await, "email").await;
        let mail = smtp.next_mail().await;
        assert!(mail.over_tls, "{scheme}: the mail came over TLS");
        assert_eq!(mail.to, vec!["rita@office.test".to_string()]);
        let code = code_in(&mail.data);
        json_with_status(app.sign_in_step("rita", Some(&code)).await, StatusCode::OK).await;

        // Without the office's authority the certificate is not trusted: no mail, 503.
        let untrusting = spawn_app_with(move |c| c.smtp_url = Some(url)).await;
        untrusting.seed_two_step_user("sam", "email", Some("sam@office.test"), None, None);
        let refused = untrusting.sign_in_step("sam", None).await;
        assert_error(refused, StatusCode::SERVICE_UNAVAILABLE, "unavailable", None).await;
        assert!(!smtp.has_unread_mail(), "{scheme}: nothing was sent to an unverified server");
    }
}

#[tokio::test]
async fn an_smtp_ca_file_without_a_certificate_stops_the_start() {
    let folder = tempfile::tempdir().unwrap();
    let not_pem = folder.path().join("ca.pem");
    std::fs::write(&not_pem, "this is no certificate").unwrap();
    for (file, expected) in
        [(not_pem, "holds no PEM certificate"), (folder.path().join("gone.pem"), "gone.pem")]
    {
        let mut config = Config::with_data_dir(folder.path().join("data"));
        config.smtp_url = Some("smtp://mail.office.test".into());
        config.smtp_ca_file = Some(file);
        let error = format!("{:#}", Notifier::from_config(&config).err().expect("refused"));
        assert!(error.contains("--smtp-ca-file") && error.contains(expected), "{error}");
    }
}

#[tokio::test]
async fn without_smtp_mail_goes_to_the_outbox_as_eml_files() {
    let app = spawn_app().await;
    app.seed_two_step_user("pam", "email", Some("pam@office.test"), None, None);

    assert_code_requested(app.sign_in_step("pam", None).await, "email").await;

    let files = app.outbox_files();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].to_str().unwrap().ends_with(".eml"), "{files:?}");
    let mail = std::fs::read_to_string(&files[0]).unwrap();
    assert!(mail.contains("To: pam@office.test"), "{mail}");
    assert!(mail.contains("From: cloudsync@localhost"), "{mail}");
    assert!(mail.contains("Message-ID: <"), "{mail}");
    let code = code_in(&mail);
    json_with_status(app.sign_in_step("pam", Some(&code)).await, StatusCode::OK).await;
}

#[tokio::test]
async fn an_sms_code_goes_through_the_webhook() {
    let mut webhook = SmsWebhook::start(200).await;
    let url = webhook.url();
    let app = spawn_app_with(|config| config.sms_webhook = Some(url)).await;
    app.seed_two_step_user("quinn", "sms", None, Some("+41 79 555 01 23"), None);

    assert_code_requested(app.sign_in_step("quinn", None).await, "sms").await;
    let text = webhook.next_text().await;
    assert_eq!(text["to"], "+41 79 555 01 23");
    let code = code_in(text["text"].as_str().unwrap());
    assert_eq!(text.as_object().unwrap().len(), 2, "exactly to and text: {text}");

    json_with_status(app.sign_in_step("quinn", Some(&code)).await, StatusCode::OK).await;
    let activity = app.auth_activity();
    let login = activity.iter().find(|(action, _)| action == "auth.login").unwrap();
    assert_eq!(login.1["step"], "code");
    assert_eq!(login.1["channel"], "sms");
}

#[tokio::test]
async fn a_failing_sms_webhook_answers_503() {
    let mut webhook = SmsWebhook::start(500).await;
    let url = webhook.url();
    let app = spawn_app_with(|config| config.sms_webhook = Some(url)).await;
    app.seed_two_step_user("rob", "sms", None, Some("+41795550124"), None);

    let response = app.sign_in_step("rob", None).await;

    let body = assert_error(response, StatusCode::SERVICE_UNAVAILABLE, "unavailable", None).await;
    assert!(body["message"].as_str().unwrap().contains("text message"), "{body}");
    webhook.next_text().await;
    assert_eq!(app.stored_code_count(), 0);
}

#[tokio::test]
async fn without_a_webhook_texts_go_to_the_outbox() {
    let app = spawn_app().await;
    app.seed_two_step_user("sue", "sms", None, Some("+41795550125"), None);

    assert_code_requested(app.sign_in_step("sue", None).await, "sms").await;

    let files = app.outbox_files();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].to_str().unwrap().ends_with(".sms.json"), "{files:?}");
    let text: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&files[0]).unwrap()).unwrap();
    assert_eq!(text["to"], "+41795550125");
    let code = code_in(text["text"].as_str().unwrap());
    json_with_status(app.sign_in_step("sue", Some(&code)).await, StatusCode::OK).await;
}

#[tokio::test]
async fn authenticator_codes_work_once_with_one_step_of_skew() {
    let app = spawn_app().await;
    let setup = authenticator_setup("tess", "AXIS CloudSync").unwrap();
    let secret = setup.secret_base32.clone();
    app.seed_two_step_user("tess", "authenticator", Some("tess@office.test"), None, Some(&secret));

    // Start one second into a time step, so that no step ends while a request is on its way.
    let into_step = app.clock.now().timestamp() % 30;
    app.advance_clock(Duration::seconds(31 - into_step));

    assert_code_requested(app.sign_in_step("tess", None).await, "authenticator").await;
    assert!(app.outbox_files().is_empty(), "nothing is sent for an authenticator");
    assert_eq!(app.stored_code_count(), 0);

    let now = app.clock.now().timestamp();
    let code = totp(&secret, now);
    json_with_status(app.sign_in_step("tess", Some(&code)).await, StatusCode::OK).await;
    let reused = app.sign_in_step("tess", Some(&code)).await;
    assert_error(reused, StatusCode::UNAUTHORIZED, "access_denied", Some(INVALID_CODE)).await;

    // The next step's code works; a phone clock one step behind is forgiven, two are not.
    app.advance_clock(Duration::seconds(60));
    let now = app.clock.now().timestamp();
    let two_behind = app.sign_in_step("tess", Some(&totp(&secret, now - 60))).await;
    assert_error(two_behind, StatusCode::UNAUTHORIZED, "access_denied", Some(INVALID_CODE)).await;
    let one_behind = totp(&secret, now - 30);
    json_with_status(app.sign_in_step("tess", Some(&one_behind)).await, StatusCode::OK).await;

    let activity = app.auth_activity();
    let reasons: Vec<_> = activity
        .iter()
        .filter(|(action, _)| action == "auth.failed")
        .map(|(_, details)| (details["channel"].clone(), details["reason"].clone()))
        .collect();
    assert_eq!(
        reasons,
        [
            (json!("authenticator"), json!("code already used")),
            (json!("authenticator"), json!("wrong code")),
        ]
    );
}

#[tokio::test]
async fn the_require_two_step_policy_sends_users_without_a_mode_a_code_by_email() {
    let mut smtp = MailServer::start().await;
    let url = smtp.plain_url();
    let app = spawn_app_with(|config| config.smtp_url = Some(url)).await;
    let admin = app.admin_token().await;
    app.seed_two_step_user("uma", "none", Some("uma@office.test"), None, None);
    app.seed_two_step_user("vic", "none", None, None, None);
    // An administrator without email and mode would lock themselves out: refused.
    let response =
        app.post_form("/1/policies/update", &admin, &[("require_two_step", "true")]).await;
    let body = assert_error(response, StatusCode::BAD_REQUEST, "invalid_request", None).await;
    assert!(body["message"].as_str().unwrap().contains("require_two_step"), "{body}");
    app.database()
        .execute("UPDATE users SET email = 'admin@office.test' WHERE username = 'admin'", [])
        .unwrap();
    let response =
        app.post_form("/1/policies/update", &admin, &[("require_two_step", "true")]).await;
    json_with_status(response, StatusCode::OK).await;

    assert_code_requested(app.sign_in_step("uma", None).await, "email").await;
    let code = code_in(&smtp.next_mail().await.data);
    json_with_status(app.sign_in_step("uma", Some(&code)).await, StatusCode::OK).await;

    let response = app.sign_in_step("vic", None).await;
    let body = assert_error(response, StatusCode::FORBIDDEN, "forbidden", None).await;
    assert!(body["message"].as_str().unwrap().contains("no email address"), "{body}");
}

#[tokio::test]
async fn a_code_is_only_looked_at_after_a_right_password() {
    let app = spawn_app().await;
    app.seed_two_step_user("wes", "email", Some("wes@office.test"), None, None);

    let response = app
        .client
        .post(app.url("/1/auth/"))
        .form(&[("username", "wes"), ("password", "wrong"), ("auth_code", "123456")])
        .send()
        .await
        .unwrap();

    assert_error(
        response,
        StatusCode::UNAUTHORIZED,
        "access_denied",
        Some("Invalid username or password."),
    )
    .await;
    assert!(app.outbox_files().is_empty(), "no code for a wrong password");
}

#[tokio::test]
async fn a_malformed_smtp_url_or_webhook_stops_the_start_with_a_reason() {
    for (smtp_url, webhook, expected) in [
        (Some("http://mail.office.test"), None, "--smtp-url"),
        (Some("smtp://user@mail.office.test"), None, "without a password"),
        (None, Some("gateway.office.test/send"), "--sms-webhook"),
    ] {
        let data_dir = tempfile::tempdir().unwrap();
        let mut config = cloudsync::config::Config::with_data_dir(data_dir.path().to_path_buf());
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.bcrypt_cost = 4;
        config.smtp_url = smtp_url.map(str::to_string);
        config.sms_webhook = webhook.map(str::to_string);
        let clock = std::sync::Arc::new(cloudsync::clock::Clock::system());
        let error = match cloudsync::app::Application::build(config, clock).await {
            Ok(_) => panic!("started with {smtp_url:?} {webhook:?}"),
            Err(error) => format!("{error:#}"),
        };
        assert!(error.contains(expected), "{error}");
    }
}

#[tokio::test]
async fn a_user_created_in_authenticator_mode_gets_a_secret_once_and_signs_in_with_it() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;

    let response = app
        .post_form(
            "/1/user/create/",
            &admin,
            &[
                ("username", "tess"),
                ("password", "tess-password"),
                ("two_step_mode", "authenticator"),
            ],
        )
        .await;
    let created = json_with_status(response, StatusCode::CREATED).await;
    let secret = created["totp_secret"].as_str().expect("the secret, once").to_string();
    let url = created["otpauth_url"].as_str().unwrap();
    assert!(url.starts_with("otpauth://totp/") && url.contains(&secret), "{url}");
    let id = created["id"].as_i64().unwrap();
    let read =
        json_with_status(app.get(&format!("/1/user/{id}"), &admin, &[]).await, StatusCode::OK)
            .await;
    assert!(read.get("totp_secret").is_none() && read.get("otpauth_url").is_none(), "{read}");

    assert_code_requested(app.sign_in_step("tess", None).await, "authenticator").await;
    let code = totp(&secret, app.clock.now().timestamp());
    let body = json_with_status(app.sign_in_step("tess", Some(&code)).await, StatusCode::OK).await;
    assert!(body["session_token"].is_string());
}
