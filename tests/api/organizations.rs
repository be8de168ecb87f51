//! `/1/organization/...` and `/1/organizations/`.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{assert_error, json_with_status, spawn_app};
use crate::users::PASSWORD;

const ORG_FIELDS: [&str; 10] = [
    "id",
    "name",
    "parent_id",
    "email",
    "description",
    "space_quota",
    "space_used",
    "user_count",
    "created",
    "active",
];

fn assert_org_object(body: &Value) {
    for field in ORG_FIELDS {
        assert!(body.get(field).is_some(), "missing {field}: {body}");
    }
}

#[tokio::test]
async fn a_system_admin_creates_reads_updates_and_lists_organizations() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;

    let response = app
        .get(
            "/1/organization/create/",
            &admin,
            &[
                ("name", "Engineering"),
                ("email", "eng@example.test"),
                ("description", "Builds things"),
                ("space_quota", "1000000"),
            ],
        )
        .await;
    let created = json_with_status(response, StatusCode::CREATED).await;
    assert_org_object(&created);
    assert_eq!(created["parent_id"], 1, "below the top organization by default");
    assert_eq!(created["space_quota"], 1_000_000);
    assert_eq!(created["active"], true);
    let id = created["id"].as_i64().unwrap();
    let child = app.create_org(&admin, "Platform", Some(id)).await;

    let read = app.get(&format!("/1/organization/{id}/"), &admin, &[]).await;
    let read = json_with_status(read, StatusCode::OK).await;
    assert_eq!(read["name"], "Engineering");
    assert_eq!(read["description"], "Builds things");

    let update = app
        .post_form(
            &format!("/1/organization/update/{id}"),
            &admin,
            &[("name", "R&D"), ("space_quota", ""), ("description", "")],
        )
        .await;
    let updated = json_with_status(update, StatusCode::OK).await;
    assert_eq!(updated["name"], "R&D");
    assert!(updated["space_quota"].is_null());
    assert!(updated["description"].is_null());
    assert_eq!(updated["email"], "eng@example.test", "untouched fields stay");

    let children = app.get("/1/organizations", &admin, &[("parent_id", &id.to_string())]).await;
    let children = json_with_status(children, StatusCode::OK).await;
    assert_eq!(children["total"], 1);
    assert_eq!(children["results"][0]["id"], child);
    let all =
        json_with_status(app.get("/1/organizations", &admin, &[]).await, StatusCode::OK).await;
    assert_eq!(all["total"], 3);
    let ids: Vec<i64> =
        all["results"].as_array().unwrap().iter().map(|o| o["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [child, id, 1], "newest first");
    let page = app.get("/1/organizations", &admin, &[("limit", "1"), ("offset", "1")]).await;
    let page = json_with_status(page, StatusCode::OK).await;
    assert_eq!(page["results"].as_array().unwrap().len(), 1);
    assert_eq!(page["results"][0]["id"], id);
    assert_eq!(page["total"], 3);

    let actions: Vec<String> = app
        .database()
        .prepare(
            "SELECT action FROM activity WHERE action LIKE 'organization.%' \
             AND target_organization_id = ?1 ORDER BY id",
        )
        .unwrap()
        .query_map([id], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(actions, ["organization.create", "organization.update"]);
}

#[tokio::test]
async fn organization_input_is_checked() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let parent = app.create_org(&admin, "Parent", None).await;
    let child = app.create_org(&admin, "Child", Some(parent)).await;

    let (parent, child) = (parent.to_string(), child.to_string());
    let update_parent = format!("/1/organization/update/{parent}");
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, StatusCode);
    let cases: Vec<Case<'_>> = vec![
        ("/1/organization/create", vec![("name", "")], StatusCode::BAD_REQUEST),
        (
            "/1/organization/create",
            vec![("name", "X"), ("parent_id", "999")],
            StatusCode::NOT_FOUND,
        ),
        ("/1/organization/create", vec![("name", "X"), ("email", "nope")], StatusCode::BAD_REQUEST),
        (
            "/1/organization/create",
            vec![("name", "X"), ("space_quota", "-2")],
            StatusCode::BAD_REQUEST,
        ),
        ("/1/organization/update/1", vec![("parent_id", &parent)], StatusCode::BAD_REQUEST),
        ("/1/organization/update/1", vec![("active", "false")], StatusCode::FORBIDDEN),
        (&update_parent, vec![("parent_id", &child)], StatusCode::BAD_REQUEST),
        (&update_parent, vec![("parent_id", &parent)], StatusCode::BAD_REQUEST),
        ("/1/organization/update/999", vec![("name", "X")], StatusCode::NOT_FOUND),
        ("/1/organization/abc", vec![], StatusCode::NOT_FOUND),
    ];
    for (path, form, status) in cases {
        let response = app.post_form(path, &admin, &form).await;
        assert_eq!(
            response.status(),
            status,
            "{path} {form:?}: {}",
            response.text().await.unwrap()
        );
    }
}

#[tokio::test]
async fn usage_and_user_count_cover_the_organization_and_those_below_it() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let parent = app.create_org(&admin, "Parent", None).await;
    let child = app.create_org(&admin, "Child", Some(parent)).await;
    let in_parent = app.create_user_in(&admin, "pat", "user", parent).await["id"].as_i64().unwrap();
    let in_child = app.create_user_in(&admin, "chris", "user", child).await["id"].as_i64().unwrap();
    let conn = app.database();
    conn.execute("UPDATE roots SET space_used = 100 WHERE owner_id = ?1", [in_parent]).unwrap();
    conn.execute("UPDATE roots SET space_used = 23 WHERE owner_id = ?1", [in_child]).unwrap();

    let parent_body = json_with_status(
        app.get(&format!("/1/organization/{parent}"), &admin, &[]).await,
        StatusCode::OK,
    )
    .await;
    let child_body = json_with_status(
        app.get(&format!("/1/organization/{child}"), &admin, &[]).await,
        StatusCode::OK,
    )
    .await;

    assert_eq!(parent_body["space_used"], 123);
    assert_eq!(parent_body["user_count"], 2);
    assert_eq!(child_body["space_used"], 23);
    assert_eq!(child_body["user_count"], 1);
}

#[tokio::test]
async fn deleting_organizations_empty_non_empty_recursive_and_top() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let empty = app.create_org(&admin, "Empty", None).await;
    let full = app.create_org(&admin, "Full", None).await;
    let below = app.create_org(&admin, "Below", Some(full)).await;
    let (member, member_token) = app.user_with_token(&admin, "mona", "user", below).await;
    let root_id = app.roots_owned_by(member)[0].0;
    let folder = app.root_folder(root_id);
    std::fs::write(folder.join("file.txt"), b"x").unwrap();

    let top = app.get("/1/organization/delete/1", &admin, &[("recursive", "true")]).await;
    assert_error(top, StatusCode::FORBIDDEN, "forbidden", None).await;
    let not_empty = app.get(&format!("/1/organization/delete/{full}"), &admin, &[]).await;
    assert_error(not_empty, StatusCode::CONFLICT, "conflict", None).await;
    let missing = app.get("/1/organization/delete/999", &admin, &[]).await;
    assert_error(missing, StatusCode::NOT_FOUND, "not_found", None).await;

    let response = app.get(&format!("/1/organization/delete/{empty}"), &admin, &[]).await;
    json_with_status(response, StatusCode::OK).await;
    let gone = app.get(&format!("/1/organization/{empty}"), &admin, &[]).await;
    assert_error(gone, StatusCode::NOT_FOUND, "not_found", None).await;

    let response =
        app.get(&format!("/1/organization/delete/{full}/"), &admin, &[("recursive", "true")]).await;
    json_with_status(response, StatusCode::OK).await;

    for id in [full, below] {
        let gone = app.get(&format!("/1/organization/{id}"), &admin, &[]).await;
        assert_error(gone, StatusCode::NOT_FOUND, "not_found", None).await;
    }
    let user = app.get(&format!("/1/user/{member}"), &admin, &[]).await;
    assert_error(user, StatusCode::NOT_FOUND, "not_found", None).await;
    assert!(!folder.exists(), "the roots' folders are removed");
    assert!(app.roots_owned_by(member).is_empty());
    assert_eq!(
        app.get("/1/account/info", &member_token, &[]).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let details: String = app
        .database()
        .query_row(
            "SELECT details FROM activity WHERE action = 'organization.delete' \
             AND target_organization_id = ?1",
            [full],
            |row| row.get(0),
        )
        .unwrap();
    let details: Value = serde_json::from_str(&details).unwrap();
    assert_eq!(details["recursive"], true);
    assert_eq!(details["users"], serde_json::json!([member]));
}

#[tokio::test]
async fn deactivating_an_organization_ends_its_users_sessions() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let org = app.create_org(&admin, "Seasonal", None).await;
    let sub = app.create_org(&admin, "Sub", Some(org)).await;
    let (_, token) = app.user_with_token(&admin, "sam", "user", sub).await;
    let (_, outsider) = app.user_with_token(&admin, "out", "user", 1).await;

    let response = app
        .post_form(&format!("/1/organization/update/{org}"), &admin, &[("active", "false")])
        .await;
    let body = json_with_status(response, StatusCode::OK).await;

    assert_eq!(body["active"], false);
    assert_eq!(app.get("/1/account/info", &token, &[]).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.get("/1/account/info", &outsider, &[]).await.status(), StatusCode::OK);
    assert_eq!(app.sign_in("sam", PASSWORD).await.status(), StatusCode::UNAUTHORIZED);

    let again = app
        .post_form(&format!("/1/organization/update/{org}"), &admin, &[("active", "true")])
        .await;
    json_with_status(again, StatusCode::OK).await;
    app.token_for("sam", PASSWORD).await;
}

#[tokio::test]
async fn nobody_deactivates_the_organization_they_belong_to() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let parent = app.create_org(&admin, "Parent", None).await;
    let child = app.create_org(&admin, "Child", Some(parent)).await;
    let (_, inner) = app.user_with_token(&admin, "inner", "system_admin", child).await;

    for org in [child, parent] {
        let response = app
            .post_form(&format!("/1/organization/update/{org}"), &inner, &[("active", "false")])
            .await;
        assert_error(response, StatusCode::FORBIDDEN, "forbidden", None).await;
    }
    assert_eq!(app.get("/1/account/info", &inner, &[]).await.status(), StatusCode::OK);
}
