//! The permission matrix over every route of the URL table.
//!
//! Each row is one request to one route, and states the status every kind of caller gets:
//! no token, a bad token, an expired token, a user and an org admin of another organization,
//! a plain user, the org admin and a system admin, and members of a Team Share at each level.
//! The routes are read from `src/api/mod.rs` and `src/admin_ui.rs`: a route without a row
//! fails the test. Rows that change something run against a fresh server per caller.
//!
//! `MATRIX_PRINT=1 cargo test route_matrix` prints what each caller got, in the table's own
//! form, for reviewing a change of rules.

use std::collections::BTreeSet;

use chrono::Duration;
use reqwest::{Method, StatusCode};

use crate::helpers::{TestApp, json_with_status, spawn_app};

/// The callers, in the order of a row's statuses.
const CALLERS: [&str; 12] = [
    "none",
    "bad",
    "expired",
    "other_user",
    "other_admin",
    "user",
    "org_admin",
    "sys_admin",
    "m_read",
    "m_write",
    "m_delete",
    "m_admin",
];

/// One request and the status each caller gets. A POST to `/1/files/` sends one file part as
/// `multipart/form-data`, a PUT sends a small body, other requests send the form.
///
/// A request that can never be valid (a file operation on the top of a root, say) answers 400
/// to every signed-in caller before anything is looked up; the rows state that too. Paths and values may name the fixture's
/// objects: `{share}` (a Team Share in organization A with `/doc.txt` and `/dir`), `{sync}`
/// (the sync root of `{user}`), `{user}` (a plain user of A), `{org}` (A), `{machine}` (a
/// machine of `{user}`), `{rev}` (the revision of `/doc.txt`), `{link}` (a share link of
/// `/doc.txt` made by the system admin) and `{folder_link}` (a link of `/dir` taking uploads).
struct Row {
    /// The route patterns this row exercises, as written in the URL table.
    routes: &'static [&'static str],
    method: Method,
    path: &'static str,
    form: &'static [(&'static str, &'static str)],
    /// Whether the request changes something (then each caller gets a fresh server).
    changes: bool,
    /// Twelve statuses, in the order of [`CALLERS`].
    expect: &'static str,
}

const GET: Method = Method::GET;
const POST: Method = Method::POST;
const PUT: Method = Method::PUT;

#[rustfmt::skip]
const ROWS: &[Row] = &[
    // ---- sign-in, account, policies
    Row { routes: &["/1/auth"], method: POST, path: "/1/auth", form: &[("username", "{user_name}"), ("password", "matrix-password")], changes: false,
          expect: "200 200 200 200 200 200 200 200 200 200 200 200" },
    Row { routes: &["/1/auth/logout"], method: POST, path: "/1/auth/logout", form: &[], changes: true,
          expect: "401 401 401 200 200 200 200 200 200 200 200 200" },
    Row { routes: &["/1/account/info"], method: GET, path: "/1/account/info", form: &[], changes: false,
          expect: "401 401 401 200 200 200 200 200 200 200 200 200" },
    Row { routes: &["/1/policies"], method: GET, path: "/1/policies", form: &[], changes: false,
          expect: "401 401 401 403 200 403 200 200 403 403 403 403" },
    Row { routes: &["/1/policies/update"], method: POST, path: "/1/policies/update", form: &[("api_token_hours", "100")], changes: true,
          expect: "401 401 401 403 403 403 403 200 403 403 403 403" },
    // ---- machines
    Row { routes: &["/1/machines"], method: GET, path: "/1/machines", form: &[], changes: false,
          expect: "401 401 401 200 200 200 200 200 200 200 200 200" },
    Row { routes: &["/1/machines/register"], method: POST, path: "/1/machines/register", form: &[("guid", "matrix-pc")], changes: true,
          expect: "401 401 401 201 201 201 201 201 201 201 201 201" },
    Row { routes: &["/1/machines/{machine_id}"], method: GET, path: "/1/machines/{machine}", form: &[], changes: false,
          expect: "401 401 401 404 404 404 200 200 404 404 404 404" },
    Row { routes: &["/1/machines/{machine_id}/checkin"], method: POST, path: "/1/machines/{machine}/checkin", form: &[("status", "idle")], changes: true,
          expect: "401 401 401 404 404 404 404 404 404 404 404 404" },
    Row { routes: &["/1/machines/delete/{machine_id}"], method: POST, path: "/1/machines/delete/{machine}", form: &[], changes: true,
          expect: "401 401 401 404 404 404 200 200 404 404 404 404" },
    // ---- roots
    Row { routes: &["/1/roots"], method: GET, path: "/1/roots", form: &[], changes: false,
          expect: "401 401 401 200 200 200 200 200 200 200 200 200" },
    Row { routes: &["/1/roots/create"], method: POST, path: "/1/roots/create", form: &[("name", "New share"), ("type", "share"), ("organization_id", "{org}")], changes: true,
          expect: "401 401 401 403 403 403 201 201 403 403 403 403" },
    Row { routes: &["/1/roots/{root_id}"], method: GET, path: "/1/roots/{share}", form: &[], changes: false,
          expect: "401 401 401 404 404 404 200 200 200 200 200 200" },
    Row { routes: &["/1/roots/update/{root_id}"], method: POST, path: "/1/roots/update/{share}", form: &[("name", "Renamed")], changes: true,
          expect: "401 401 401 404 404 404 200 200 403 403 403 200" },
    Row { routes: &["/1/roots/delete/{root_id}"], method: POST, path: "/1/roots/delete/{share}", form: &[], changes: true,
          expect: "401 401 401 404 404 404 200 200 403 403 403 403" },
    Row { routes: &["/1/roots/{root_id}/members"], method: GET, path: "/1/roots/{share}/members", form: &[], changes: false,
          expect: "401 401 401 404 404 404 200 200 200 200 200 200" },
    Row { routes: &["/1/roots/{root_id}/members/add"], method: POST, path: "/1/roots/{share}/members/add", form: &[("user_id", "{plain}"), ("permission", "read")], changes: true,
          expect: "401 401 401 404 404 404 200 200 403 403 403 200" },
    Row { routes: &["/1/roots/{root_id}/members/remove"], method: POST, path: "/1/roots/{share}/members/remove", form: &[("user_id", "{member}")], changes: true,
          expect: "401 401 401 404 404 404 200 200 403 403 403 200" },
    // ---- files and folders
    Row { routes: &["/1/files/{root_id}/{tail:.*}"], method: GET, path: "/1/files/{share}/doc.txt", form: &[], changes: false,
          expect: "401 401 401 404 404 404 200 200 200 200 200 200" },
    Row { routes: &["/1/files/{root_id}"], method: POST, path: "/1/files/{share}", form: &[], changes: true,
          expect: "401 401 401 404 404 404 201 201 403 201 201 201" },
    Row { routes: &["/1/files_put/{root_id}/{tail:.*}"], method: PUT, path: "/1/files_put/{share}/new.txt", form: &[], changes: true,
          expect: "401 401 401 404 404 404 201 201 403 201 201 201" },
    Row { routes: &["/1/files_put/{root_id}"], method: PUT, path: "/1/files_put/{share}", form: &[], changes: true,
          expect: "401 401 401 400 400 400 400 400 400 400 400 400" },
    Row { routes: &["/1/chunked_upload"], method: PUT, path: "/1/chunked_upload", form: &[], changes: true,
          expect: "401 401 401 200 200 200 200 200 200 200 200 200" },
    Row { routes: &["/1/commit_chunked_upload/{root_id}/{tail:.*}"], method: POST, path: "/1/commit_chunked_upload/{share}/big.bin", form: &[("upload_id", "00000000000000000000000000000000")], changes: true,
          expect: "401 401 401 404 404 404 404 404 404 404 404 404" },
    Row { routes: &["/1/commit_chunked_upload/{root_id}"], method: POST, path: "/1/commit_chunked_upload/{share}", form: &[("upload_id", "00000000000000000000000000000000")], changes: true,
          expect: "401 401 401 400 400 400 400 400 400 400 400 400" },
    Row { routes: &["/1/metadata/{root_id}"], method: GET, path: "/1/metadata/{share}", form: &[], changes: false,
          expect: "401 401 401 404 404 404 200 200 200 200 200 200" },
    Row { routes: &["/1/metadata/{root_id}/{tail:.*}"], method: GET, path: "/1/metadata/{share}/dir", form: &[], changes: false,
          expect: "401 401 401 404 404 404 200 200 200 200 200 200" },
    Row { routes: &["/1/revisions/{root_id}/{tail:.*}"], method: GET, path: "/1/revisions/{share}/doc.txt", form: &[], changes: false,
          expect: "401 401 401 404 404 404 200 200 200 200 200 200" },
    Row { routes: &["/1/revisions/{root_id}"], method: GET, path: "/1/revisions/{share}", form: &[], changes: false,
          expect: "401 401 401 404 404 404 400 400 400 400 400 400" },
    Row { routes: &["/1/restore/{root_id}/{tail:.*}"], method: POST, path: "/1/restore/{share}/doc.txt", form: &[("rev", "{rev}")], changes: true,
          expect: "401 401 401 404 404 404 200 200 403 200 200 200" },
    Row { routes: &["/1/restore/{root_id}"], method: POST, path: "/1/restore/{share}", form: &[("rev", "{rev}")], changes: true,
          expect: "401 401 401 404 404 404 404 404 403 404 404 404" },
    Row { routes: &["/1/search/{root_id}"], method: GET, path: "/1/search/{share}", form: &[("query", "doc")], changes: false,
          expect: "401 401 401 404 404 404 200 200 200 200 200 200" },
    Row { routes: &["/1/search/{root_id}/{tail:.*}"], method: GET, path: "/1/search/{share}/dir", form: &[("query", "doc")], changes: false,
          expect: "401 401 401 404 404 404 200 200 200 200 200 200" },
    Row { routes: &["/1/fileops/create_folder"], method: POST, path: "/1/fileops/create_folder", form: &[("root", "{share}"), ("path", "/new folder")], changes: true,
          expect: "401 401 401 404 404 404 201 201 403 201 201 201" },
    Row { routes: &["/1/fileops/delete"], method: POST, path: "/1/fileops/delete", form: &[("root", "{share}"), ("path", "/doc.txt")], changes: true,
          expect: "401 401 401 404 404 404 200 200 403 403 200 200" },
    Row { routes: &["/1/fileops/move"], method: POST, path: "/1/fileops/move", form: &[("root", "{share}"), ("from_path", "/doc.txt"), ("to_path", "/moved.txt")], changes: true,
          expect: "401 401 401 404 404 404 200 200 403 200 200 200" },
    Row { routes: &["/1/fileops/copy"], method: POST, path: "/1/fileops/copy", form: &[("root", "{share}"), ("from_path", "/doc.txt"), ("to_path", "/copy.txt")], changes: true,
          expect: "401 401 401 404 404 404 200 200 403 200 200 200" },
    Row { routes: &["/1/delta"], method: POST, path: "/1/delta", form: &[("root", "{share}")], changes: false,
          expect: "401 401 401 404 404 404 200 200 200 200 200 200" },
    // ---- users
    Row { routes: &["/1/user/create"], method: POST, path: "/1/user/create", form: &[("username", "newcomer"), ("password", "newcomer-password"), ("organization_id", "{org}")], changes: true,
          expect: "401 401 401 403 404 403 201 201 403 403 403 403" },
    Row { routes: &["/1/user/{user_id}"], method: GET, path: "/1/user/{user}", form: &[], changes: false,
          expect: "401 401 401 404 404 404 200 200 404 404 404 404" },
    Row { routes: &["/1/user/update/{user_id}"], method: POST, path: "/1/user/update/{user}", form: &[("first_name", "Changed")], changes: true,
          expect: "401 401 401 404 404 404 200 200 404 404 404 404" },
    Row { routes: &["/1/user/delete/{user_id}"], method: POST, path: "/1/user/delete/{user}", form: &[], changes: true,
          expect: "401 401 401 403 404 403 200 200 403 403 403 403" },
    Row { routes: &["/1/users"], method: GET, path: "/1/users", form: &[], changes: false,
          expect: "401 401 401 403 200 403 200 200 403 403 403 403" },
    // ---- organizations
    Row { routes: &["/1/organization/create"], method: POST, path: "/1/organization/create", form: &[("name", "Gamma"), ("parent_id", "{org}")], changes: true,
          expect: "401 401 401 403 403 403 403 201 403 403 403 403" },
    Row { routes: &["/1/organization/{org_id}"], method: GET, path: "/1/organization/{org}", form: &[], changes: false,
          expect: "401 401 401 403 404 403 200 200 403 403 403 403" },
    Row { routes: &["/1/organization/update/{org_id}"], method: POST, path: "/1/organization/update/{org}", form: &[("description", "changed")], changes: true,
          expect: "401 401 401 403 403 403 403 200 403 403 403 403" },
    Row { routes: &["/1/organization/delete/{org_id}"], method: POST, path: "/1/organization/delete/{org}", form: &[], changes: true,
          expect: "401 401 401 403 403 403 403 409 403 403 403 403" },
    Row { routes: &["/1/organizations"], method: GET, path: "/1/organizations", form: &[], changes: false,
          expect: "401 401 401 403 403 403 403 200 403 403 403 403" },
    // ---- activity log
    Row { routes: &["/1/activity/create"], method: POST, path: "/1/activity/create", form: &[("action", "custom.audit")], changes: true,
          expect: "401 401 401 403 201 403 201 201 403 403 403 403" },
    Row { routes: &["/1/activity/all"], method: GET, path: "/1/activity/all", form: &[], changes: false,
          expect: "401 401 401 403 403 403 403 200 403 403 403 403" },
    Row { routes: &["/1/activity/user/{user_id}"], method: GET, path: "/1/activity/user/{user}", form: &[], changes: false,
          expect: "401 401 401 404 404 404 200 200 404 404 404 404" },
    Row { routes: &["/1/activity/organization/{org_id}"], method: GET, path: "/1/activity/organization/{org}", form: &[], changes: false,
          expect: "401 401 401 403 404 403 200 200 403 403 403 403" },
    Row { routes: &["/1/activity/{root_id}"], method: GET, path: "/1/activity/{share}", form: &[], changes: false,
          expect: "401 401 401 404 404 404 200 200 200 200 200 200" },
    Row { routes: &["/1/activity/{root_id}/{path:.*}"], method: GET, path: "/1/activity/{share}/doc.txt", form: &[], changes: false,
          expect: "401 401 401 404 404 404 200 200 200 200 200 200" },
    // ---- share links: the owner's API, then the visitor's side, which needs no token
    Row { routes: &["/1/shares"], method: GET, path: "/1/shares", form: &[], changes: false,
          expect: "401 401 401 200 200 200 200 200 200 200 200 200" },
    Row { routes: &["/1/shares/create"], method: POST, path: "/1/shares/create", form: &[("root", "{share}"), ("path", "/doc.txt")], changes: true,
          expect: "401 401 401 404 404 404 201 201 201 201 201 201" },
    Row { routes: &["/1/shares/{share_id}"], method: GET, path: "/1/shares/{link}", form: &[], changes: false,
          expect: "401 401 401 404 404 404 404 200 404 404 404 404" },
    Row { routes: &["/1/shares/update/{share_id}"], method: POST, path: "/1/shares/update/{link}", form: &[("download_limit", "5")], changes: true,
          expect: "401 401 401 404 404 404 404 200 404 404 404 404" },
    Row { routes: &["/1/shares/delete/{share_id}"], method: POST, path: "/1/shares/delete/{link}", form: &[], changes: true,
          expect: "401 401 401 404 404 404 404 200 404 404 404 404" },
    Row { routes: &["/s/{share_id}"], method: GET, path: "/s/{link}", form: &[], changes: false,
          expect: "200 200 200 200 200 200 200 200 200 200 200 200" },
    Row { routes: &["/s/{share_id}/download"], method: GET, path: "/s/{link}/download", form: &[], changes: false,
          expect: "200 200 200 200 200 200 200 200 200 200 200 200" },
    Row { routes: &["/s/{share_id}/download/{tail:.*}"], method: GET, path: "/s/{folder_link}/download/inner.txt", form: &[], changes: false,
          expect: "200 200 200 200 200 200 200 200 200 200 200 200" },
    Row { routes: &["/s/{share_id}/zip"], method: GET, path: "/s/{folder_link}/zip", form: &[], changes: false,
          expect: "200 200 200 200 200 200 200 200 200 200 200 200" },
    Row { routes: &["/s/{share_id}/upload"], method: POST, path: "/s/{folder_link}/upload", form: &[], changes: true,
          expect: "201 201 201 201 201 201 201 201 201 201 201 201" },
    Row { routes: &["/s/_/share.css"], method: GET, path: "/s/_/share.css", form: &[], changes: false,
          expect: "200 200 200 200 200 200 200 200 200 200 200 200" },
    // ---- the admin page is public; it signs in through the API
    Row { routes: &["/admin"], method: GET, path: "/admin", form: &[], changes: false,
          expect: "200 200 200 200 200 200 200 200 200 200 200 200" },
    Row { routes: &["/admin/{file:.*}"], method: GET, path: "/admin/admin.js", form: &[], changes: false,
          expect: "200 200 200 200 200 200 200 200 200 200 200 200" },
];

/// The tokens and objects of one fixture.
struct Fixture {
    app: TestApp,
    tokens: Vec<Option<String>>,
    values: Vec<(&'static str, String)>,
}

const PASSWORD: &str = "matrix-password";

impl Fixture {
    async fn build() -> Fixture {
        let app = spawn_app().await;
        let admin = app.admin_token().await;
        let call = |path: &'static str, form: Vec<(&'static str, String)>| {
            let (app, admin) = (&app, admin.clone());
            async move {
                let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let response = app.post_form(path, &admin, &form).await;
                json_with_status(response, StatusCode::CREATED).await
            }
        };
        let org_a = call("/1/organization/create", vec![("name", "Alpha".into())]).await["id"]
            .as_i64()
            .unwrap();
        let org_b = call("/1/organization/create", vec![("name", "Beta".into())]).await["id"]
            .as_i64()
            .unwrap();
        let mut ids = std::collections::HashMap::new();
        for (name, org, role) in [
            ("target", org_a, "user"),
            ("pu", org_a, "user"),
            ("oa", org_a, "org_admin"),
            ("ub", org_b, "user"),
            ("ob", org_b, "org_admin"),
            ("mread", org_a, "user"),
            ("mwrite", org_a, "user"),
            ("mdelete", org_a, "user"),
            ("madmin", org_a, "user"),
        ] {
            let user = call(
                "/1/user/create",
                vec![
                    ("username", name.into()),
                    ("password", PASSWORD.into()),
                    ("organization_id", org.to_string()),
                    ("role", role.into()),
                ],
            )
            .await;
            ids.insert(name, user["id"].as_i64().unwrap());
        }
        let share = call(
            "/1/roots/create",
            vec![
                ("name", "Team".into()),
                ("type", "share".into()),
                ("organization_id", org_a.to_string()),
            ],
        )
        .await["id"]
            .as_i64()
            .unwrap();
        for (name, level) in
            [("mread", "read"), ("mwrite", "write"), ("mdelete", "delete"), ("madmin", "admin")]
        {
            let response = app
                .post_form(
                    &format!("/1/roots/{share}/members/add"),
                    &admin,
                    &[("user_id", &ids[name].to_string()), ("permission", level)],
                )
                .await;
            assert!(response.status().is_success(), "member {name}");
        }
        let doc = app
            .client
            .put(app.url(&format!("/1/files_put/{share}/doc.txt")))
            .bearer_auth(&admin)
            .body("the document")
            .send()
            .await
            .unwrap();
        let rev =
            json_with_status(doc, StatusCode::CREATED).await["rev"].as_str().unwrap().to_string();
        let folder = app
            .post_form(
                "/1/fileops/create_folder",
                &admin,
                &[("root", &share.to_string()), ("path", "/dir")],
            )
            .await;
        json_with_status(folder, StatusCode::CREATED).await;

        let inner = app
            .client
            .put(app.url(&format!("/1/files_put/{share}/dir/inner.txt")))
            .bearer_auth(&admin)
            .body("inside the folder")
            .send()
            .await
            .unwrap();
        json_with_status(inner, StatusCode::CREATED).await;
        let link = app
            .post_form(
                "/1/shares/create",
                &admin,
                &[("root", &share.to_string()), ("path", "/doc.txt")],
            )
            .await;
        let link =
            json_with_status(link, StatusCode::CREATED).await["id"].as_str().unwrap().to_string();
        let folder_link = app
            .post_form(
                "/1/shares/create",
                &admin,
                &[("root", &share.to_string()), ("path", "/dir"), ("allow_upload", "true")],
            )
            .await;
        let folder_link = json_with_status(folder_link, StatusCode::CREATED).await["id"]
            .as_str()
            .unwrap()
            .to_string();

        let target = app.token_for("target", PASSWORD).await;
        let info =
            json_with_status(app.get("/1/account/info", &target, &[]).await, StatusCode::OK).await;
        let sync = info["roots"][0]["id"].as_i64().unwrap();
        let machine =
            app.post_form("/1/machines/register", &target, &[("guid", "target-pc")]).await;
        let machine = json_with_status(machine, StatusCode::CREATED).await["id"].as_i64().unwrap();

        // The expired token is issued first, then time moves past every token's life.
        let expired = app.token_for("pu", PASSWORD).await;
        app.advance_clock(Duration::hours(721));
        let mut tokens = vec![None, Some("0000bad0000token".to_string()), Some(expired)];
        for name in ["ub", "ob", "pu", "oa"] {
            tokens.push(Some(app.token_for(name, PASSWORD).await));
        }
        tokens.push(Some(app.admin_token().await));
        for name in ["mread", "mwrite", "mdelete", "madmin"] {
            tokens.push(Some(app.token_for(name, PASSWORD).await));
        }
        let values = vec![
            ("{share}", share.to_string()),
            ("{sync}", sync.to_string()),
            ("{user}", ids["target"].to_string()),
            ("{user_name}", "target".to_string()),
            ("{member}", ids["mread"].to_string()),
            ("{plain}", ids["pu"].to_string()),
            ("{org}", org_a.to_string()),
            ("{machine}", machine.to_string()),
            ("{rev}", rev),
            ("{link}", link),
            ("{folder_link}", folder_link),
        ];
        Fixture { app, tokens, values }
    }

    fn fill(&self, text: &str) -> String {
        self.values.iter().fold(text.to_string(), |text, (key, value)| text.replace(key, value))
    }

    async fn send(&self, row: &Row, caller: usize) -> u16 {
        let url = self.app.url(&self.fill(row.path));
        let form: Vec<(String, String)> =
            row.form.iter().map(|(key, value)| (key.to_string(), self.fill(value))).collect();
        let mut request = self.app.client.request(row.method.clone(), url);
        if let Some(token) = &self.tokens[caller] {
            request = request.bearer_auth(token);
        }
        let uploads_a_file = row.path.starts_with("/1/files/") || row.path.ends_with("/upload");
        request = if row.method == Method::POST && uploads_a_file {
            // The upload a web form makes: one file part.
            let part = reqwest::multipart::Part::text("matrix body").file_name("upload.txt");
            request.multipart(reqwest::multipart::Form::new().part("file", part))
        } else if row.method == Method::PUT {
            request.query(&form).body("matrix body")
        } else if row.method == Method::GET {
            request.query(&form)
        } else {
            request.form(&form)
        };
        request.send().await.unwrap().status().as_u16()
    }
}

/// The route patterns of the URL table, read from the source.
fn routes_in_source() -> BTreeSet<String> {
    let mut routes = BTreeSet::new();
    for file in ["src/api/mod.rs", "src/admin_ui.rs"] {
        let text =
            std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file))
                .unwrap();
        for piece in text.split('"').skip(1).step_by(2) {
            if piece.starts_with("/1/") || piece.starts_with("/s/") || piece.starts_with("/admin") {
                routes.insert(piece.to_string());
            }
        }
    }
    routes
}

#[tokio::test]
async fn every_route_has_a_row_in_the_matrix() {
    let covered: BTreeSet<String> =
        ROWS.iter().flat_map(|row| row.routes.iter().map(|r| r.to_string())).collect();
    let missing: Vec<_> = routes_in_source().difference(&covered).cloned().collect();
    assert!(missing.is_empty(), "routes without a row in the permission matrix: {missing:#?}");
    let unknown: Vec<_> = covered.difference(&routes_in_source()).cloned().collect();
    assert!(unknown.is_empty(), "rows naming routes that do not exist: {unknown:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_caller_gets_the_status_its_row_states() {
    let print = std::env::var_os("MATRIX_PRINT").is_some();
    let shared = Fixture::build().await;
    let mut failures = Vec::new();
    for row in ROWS {
        let mut got = Vec::new();
        // A row that changes something gets a fresh server after each caller it let through,
        // so that every caller meets the same starting state.
        let mut own = if row.changes { Some(Fixture::build().await) } else { None };
        for caller in 0..CALLERS.len() {
            let status = own.as_ref().unwrap_or(&shared).send(row, caller).await;
            if row.changes && (200..300).contains(&status) {
                own = Some(Fixture::build().await);
            }
            got.push(status.to_string());
        }
        let got = got.join(" ");
        if print {
            println!("{} {} => {got}", row.method, row.path);
        }
        if got != row.expect {
            failures.push(format!(
                "{} {} {:?}\n   expected {}\n   got      {got}",
                row.method, row.path, row.form, row.expect
            ));
        }
    }
    assert!(failures.is_empty(), "callers:  {}\n{}", CALLERS.join(" "), failures.join("\n"));
}
