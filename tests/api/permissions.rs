//! The permission matrix through HTTP: five callers against every users, organizations and
//! activity endpoint. A caller's role that can never do something answers 403; an object
//! outside the caller's reach answers 404, as if it did not exist.

use reqwest::StatusCode;

use crate::helpers::{TestApp, json_with_status, spawn_app};

/// The objects the matrix acts on.
struct World {
    admin: String,
    org_a: i64,
    org_a1: i64,
    /// A user in A1 (the "user" caller).
    u: i64,
    /// A system admin inside A, above the reach of A's org admin.
    inner_system_admin: i64,
    /// The sync root of `u`.
    u_root: i64,
}

/// What each row does; mutating rows get fresh targets so the callers do not interfere.
#[derive(Clone, Copy, Debug)]
enum Row {
    ReadUser,
    UpdateProfile,
    UpdateQuota,
    PromoteToOrgAdmin,
    PromoteToSystemAdmin,
    CreateUser,
    CreateSystemAdmin,
    ListUsersOfOrg,
    ListUsers,
    DeleteUser,
    ReadInnerSystemAdmin,
    ReadOrganization,
    UpdateOrganization,
    ListOrganizations,
    CreateOrganization,
    DeleteOrganization,
    UserActivity,
    OrganizationActivity,
    AllActivity,
    CreateActivity,
    RootActivity,
    RootActivityCsv,
}

impl World {
    async fn call(&self, app: &TestApp, row: Row, caller: usize, token: &str) -> StatusCode {
        let u = self.u;
        let a1 = self.org_a1.to_string();
        let unique = format!("m{caller}x{row:?}").to_lowercase();
        let (path, form): (String, Vec<(&str, String)>) = match row {
            Row::ReadUser => (format!("/1/user/{u}"), vec![]),
            Row::UpdateProfile => {
                (format!("/1/user/update/{u}"), vec![("first_name", unique.clone())])
            }
            Row::UpdateQuota => {
                (format!("/1/user/update/{u}"), vec![("space_quota", format!("{}", 1000 + caller))])
            }
            Row::PromoteToOrgAdmin => {
                (format!("/1/user/update/{u}"), vec![("role", "org_admin".into())])
            }
            Row::PromoteToSystemAdmin => {
                (format!("/1/user/update/{u}"), vec![("role", "system_admin".into())])
            }
            Row::CreateUser | Row::CreateSystemAdmin => {
                let role = if matches!(row, Row::CreateUser) { "user" } else { "system_admin" };
                (
                    "/1/user/create".into(),
                    vec![
                        ("username", unique.clone()),
                        ("password", "a-good-password".into()),
                        ("organization_id", a1.clone()),
                        ("role", role.into()),
                        ("create_root", "false".into()),
                    ],
                )
            }
            Row::ListUsersOfOrg => ("/1/users".into(), vec![("organization_id", a1.clone())]),
            Row::ListUsers => ("/1/users".into(), vec![]),
            Row::DeleteUser => {
                let target = app.create_user_in(&self.admin, &unique, "user", self.org_a1).await;
                (format!("/1/user/delete/{}", target["id"]), vec![])
            }
            Row::ReadInnerSystemAdmin => (format!("/1/user/{}", self.inner_system_admin), vec![]),
            Row::ReadOrganization => (format!("/1/organization/{a1}"), vec![]),
            Row::UpdateOrganization => {
                (format!("/1/organization/update/{a1}"), vec![("description", unique.clone())])
            }
            Row::ListOrganizations => ("/1/organizations".into(), vec![]),
            Row::CreateOrganization => {
                ("/1/organization/create".into(), vec![("name", unique.clone())])
            }
            Row::DeleteOrganization => {
                let target = app.create_org(&self.admin, &unique, Some(self.org_a1)).await;
                (format!("/1/organization/delete/{target}"), vec![])
            }
            Row::UserActivity => (format!("/1/activity/user/{u}"), vec![]),
            Row::OrganizationActivity => {
                (format!("/1/activity/organization/{}", self.org_a), vec![])
            }
            Row::AllActivity => ("/1/activity/all".into(), vec![]),
            Row::CreateActivity => {
                ("/1/activity/create".into(), vec![("action", "custom.matrix".into())])
            }
            Row::RootActivity => (format!("/1/activity/{}", self.u_root), vec![]),
            Row::RootActivityCsv => {
                (format!("/1/activity/{}", self.u_root), vec![("format", "csv".into())])
            }
        };
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let response = app.post_form(&path, token, &form).await;
        let status = response.status();
        if status.is_client_error() {
            // Every refusal is the JSON error shape, never a bare status.
            let body: serde_json::Value = response.json().await.unwrap();
            assert_eq!(body["success"], false, "{row:?}: {body}");
        }
        // Undo promotions so later rows see `u` as a plain user again.
        if status.is_success() && matches!(row, Row::PromoteToOrgAdmin | Row::PromoteToSystemAdmin)
        {
            let reset = app
                .post_form(&format!("/1/user/update/{u}"), &self.admin, &[("role", "user")])
                .await;
            json_with_status(reset, StatusCode::OK).await;
        }
        status
    }
}

#[tokio::test]
async fn every_caller_gets_the_answer_the_rules_give() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let org_a = app.create_org(&admin, "A", None).await;
    let org_a1 = app.create_org(&admin, "A1", Some(org_a)).await;
    let org_b = app.create_org(&admin, "B", None).await;
    let (_, org_admin) = app.user_with_token(&admin, "oa", "org_admin", org_a).await;
    let (_, other_org_admin) = app.user_with_token(&admin, "ob", "org_admin", org_b).await;
    let (u, user) = app.user_with_token(&admin, "u", "user", org_a1).await;
    let (_, other_user) = app.user_with_token(&admin, "v", "user", org_a1).await;
    let inner = app.create_user_in(&admin, "sa2", "system_admin", org_a).await;
    let world = World {
        admin: admin.clone(),
        org_a,
        org_a1,
        u,
        inner_system_admin: inner["id"].as_i64().unwrap(),
        u_root: app.roots_owned_by(u)[0].0,
    };
    let callers = [
        ("system admin", admin.clone()),
        ("org admin of the organization", org_admin),
        ("org admin of another organization", other_org_admin),
        ("the user", user),
        ("another user", other_user),
    ];

    // Expected status per caller, in the order of `callers`.
    #[rustfmt::skip]
    let matrix: [(Row, [u16; 5]); 22] = [
        (Row::ReadUser,             [200, 200, 404, 200, 404]),
        (Row::UpdateProfile,        [200, 200, 404, 200, 404]),
        (Row::UpdateQuota,          [200, 200, 404, 403, 403]),
        (Row::PromoteToOrgAdmin,    [200, 200, 404, 403, 403]),
        (Row::PromoteToSystemAdmin, [200, 403, 403, 403, 403]),
        (Row::CreateUser,           [201, 201, 404, 403, 403]),
        (Row::CreateSystemAdmin,    [201, 403, 403, 403, 403]),
        (Row::ListUsersOfOrg,       [200, 200, 404, 403, 403]),
        (Row::ListUsers,            [200, 200, 200, 403, 403]),
        (Row::DeleteUser,           [200, 200, 404, 403, 403]),
        (Row::ReadInnerSystemAdmin, [200, 404, 404, 404, 404]),
        (Row::ReadOrganization,     [200, 200, 404, 403, 403]),
        (Row::UpdateOrganization,   [200, 403, 403, 403, 403]),
        (Row::ListOrganizations,    [200, 403, 403, 403, 403]),
        (Row::CreateOrganization,   [201, 403, 403, 403, 403]),
        (Row::DeleteOrganization,   [200, 403, 403, 403, 403]),
        (Row::UserActivity,         [200, 200, 404, 200, 404]),
        (Row::OrganizationActivity, [200, 200, 404, 403, 403]),
        (Row::AllActivity,          [200, 403, 403, 403, 403]),
        (Row::CreateActivity,       [201, 201, 201, 403, 403]),
        (Row::RootActivity,         [200, 200, 404, 200, 404]),
        (Row::RootActivityCsv,      [200, 200, 404, 200, 404]),
    ];

    let mut failures = Vec::new();
    for (row, expected) in matrix {
        for (index, (caller, token)) in callers.iter().enumerate() {
            let got = world.call(&app, row, index, token).await.as_u16();
            if got != expected[index] {
                failures.push(format!("{row:?} by {caller}: got {got}, want {}", expected[index]));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Org admins see only their reach in lists, and never system admins.
    let org_admin_token = app.token_for("oa", crate::users::PASSWORD).await;
    let listed =
        json_with_status(app.get("/1/users", &org_admin_token, &[]).await, StatusCode::OK).await;
    let names: Vec<&str> = listed["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"u") && names.contains(&"oa"), "{names:?}");
    assert!(
        !names.contains(&"sa2") && !names.contains(&"ob") && !names.contains(&"admin"),
        "{names:?}"
    );
    assert_eq!(listed["total"].as_i64().unwrap() as usize, names.len());
}
