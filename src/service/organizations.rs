//! Managing the tree of organizations: create, update, delete, read and list.
//!
//! Only system administrators manage organizations; org admins read their own and those
//! below it. The top organization (the one without a parent) cannot be deleted or moved.
//! A recursive delete removes users, machines, roots and sub-organizations in one
//! transaction, and the roots' folders from disk after it committed.

use rusqlite::Connection;
use serde_json::{Value, json};

use crate::db::activity::{NewActivity, insert_activity};
use crate::db::orgs::{
    OrgRow, count_organizations, delete_machines_in_organizations, delete_organization,
    find_organization, find_top_organization, has_contents, insert_organization_row, is_within,
    list_organizations as list_org_rows, subtree_ids, subtree_usage, update_organization,
};
use crate::db::roots::list_roots_of;
use crate::db::sessions::revoke_sessions_of_user;
use crate::db::users::{delete_user, user_ids_in_organizations};
use crate::domain::Caller;
use crate::domain::access::{Action, Subject, decide};
use crate::error::{ApiError, ApiResult};
use crate::service::Context;
use crate::service::roots::{delete_root_rows, remove_root_files};
use crate::service::users::{check_optional_email, check_quota, org_for};

/// The longest organization name accepted.
pub const NAME_MAX_CHARS: usize = 200;

/// What a caller asked to set on an organization; `None` leaves a field as it is (or at its
/// default on create). `Some(None)` clears a field that may be empty.
#[derive(Clone, Debug, Default)]
pub struct OrgChanges {
    pub name: Option<String>,
    pub parent_id: Option<i64>,
    pub email: Option<Option<String>>,
    pub description: Option<Option<String>>,
    pub space_quota: Option<Option<i64>>,
    /// Update only.
    pub active: Option<bool>,
}

/// An organization as the API shows it.
#[derive(Debug)]
pub struct OrgView {
    pub org: OrgRow,
    /// Bytes stored in the roots of the organization and those below it.
    pub space_used: i64,
    /// Users of the organization and those below it.
    pub user_count: i64,
}

/// A page of organizations and how many there are in all.
#[derive(Debug)]
pub struct OrgPage {
    pub organizations: Vec<OrgView>,
    pub total: i64,
}

fn view(conn: &Connection, org: OrgRow) -> ApiResult<OrgView> {
    let (space_used, user_count) = subtree_usage(conn, org.id)?;
    Ok(OrgView { org, space_used, user_count })
}

/// Creates an organization, below the top one unless `parent_id` says otherwise.
pub async fn create_organization(
    context: &Context,
    caller: &Caller,
    changes: OrgChanges,
) -> ApiResult<OrgView> {
    decide(caller, Action::ManageOrganizations, &Subject::Server)?;
    let name = check_name(changes.name.as_deref().unwrap_or_default())?;
    let email = check_optional_email(changes.email.clone().flatten())?;
    let description = check_description(changes.description.clone().flatten())?;
    check_quota(changes.space_quota)?;
    let now = context.now_text();
    let caller = caller.clone();
    context
        .db
        .write(move |tx| {
            let parent_id = match changes.parent_id {
                Some(parent_id) => parent_id,
                None => find_top_organization(tx)?
                    .ok_or_else(|| ApiError::not_found("Top organization"))?,
            };
            if find_organization(tx, parent_id)?.is_none() {
                return Err(ApiError::NotFound("Parent organization not found.".into()));
            }
            let row = OrgRow {
                id: 0,
                name,
                parent_id: Some(parent_id),
                email,
                description,
                space_quota: changes.space_quota.flatten(),
                active: true,
                created: now.clone(),
            };
            let id = insert_organization_row(tx, &row, &now)?;
            insert_activity(
                tx,
                &NewActivity {
                    organization_id: Some(id),
                    target_organization_id: Some(id),
                    details: json!({"name": row.name, "parent_id": parent_id}),
                    ..NewActivity::by(&caller, now.clone(), "organization.create")
                },
            )?;
            let org =
                find_organization(tx, id)?.ok_or_else(|| ApiError::not_found("Organization"))?;
            view(tx, org)
        })
        .await
}

/// Reads one organization.
pub async fn get_organization(
    context: &Context,
    caller: &Caller,
    org_id: i64,
) -> ApiResult<OrgView> {
    let caller = caller.clone();
    context
        .db
        .read(move |conn| {
            org_for(conn, &caller, org_id, Action::ReadOrganization)?;
            let org = find_organization(conn, org_id)?
                .ok_or_else(|| ApiError::not_found("Organization"))?;
            view(conn, org)
        })
        .await
}

/// Lists organizations: the children of `parent_id`, or all of them.
pub async fn list_organizations(
    context: &Context,
    caller: &Caller,
    parent_id: Option<i64>,
    offset: i64,
    limit: i64,
) -> ApiResult<OrgPage> {
    decide(caller, Action::ManageOrganizations, &Subject::Server)?;
    context
        .db
        .read(move |conn| {
            if let Some(parent_id) = parent_id
                && find_organization(conn, parent_id)?.is_none()
            {
                return Err(ApiError::NotFound("Parent organization not found.".into()));
            }
            let rows = list_org_rows(conn, parent_id, offset, limit)?;
            let organizations =
                rows.into_iter().map(|org| view(conn, org)).collect::<ApiResult<Vec<_>>>()?;
            Ok(OrgPage { organizations, total: count_organizations(conn, parent_id)? })
        })
        .await
}

/// Updates an organization. Deactivating it (`active=false`) ends the sessions of every user
/// in it and below it.
pub async fn update_organization_fields(
    context: &Context,
    caller: &Caller,
    org_id: i64,
    changes: OrgChanges,
) -> ApiResult<OrgView> {
    decide(caller, Action::ManageOrganizations, &Subject::Server)?;
    let name = changes.name.as_deref().map(check_name).transpose()?;
    let email = changes.email.clone().map(check_optional_email).transpose()?;
    let description = changes.description.clone().map(check_description).transpose()?;
    check_quota(changes.space_quota)?;
    let now = context.now_text();
    let caller = caller.clone();
    context
        .db
        .write(move |tx| {
            let before = find_organization(tx, org_id)?
                .ok_or_else(|| ApiError::not_found("Organization"))?;
            let mut after = before.clone();
            let mut details = serde_json::Map::new();
            let mut note = |field: &str, from: Value, to: Value| {
                if from != to {
                    details.insert(field.to_string(), json!({"from": from, "to": to}));
                }
            };
            if let Some(name) = name {
                note("name", json!(before.name), json!(name));
                after.name = name;
            }
            if let Some(email) = email {
                note("email", json!(before.email), json!(email));
                after.email = email;
            }
            if let Some(description) = description {
                note("description", json!(before.description), json!(description));
                after.description = description;
            }
            if let Some(quota) = changes.space_quota {
                note("space_quota", json!(before.space_quota), json!(quota));
                after.space_quota = quota;
            }
            if let Some(active) = changes.active {
                if !active && before.parent_id.is_none() {
                    return Err(ApiError::forbidden("The top organization cannot be deactivated."));
                }
                // Deactivating one's own organization (or one above it) would end one's own
                // session and could leave the server without a system admin who can sign in.
                if !active && is_within(tx, caller.organization_id, org_id)? {
                    return Err(ApiError::forbidden(
                        "You cannot deactivate the organization you belong to.",
                    ));
                }
                note("active", json!(before.active), json!(active));
                after.active = active;
            }
            if let Some(parent_id) = changes.parent_id
                && Some(parent_id) != before.parent_id
            {
                if before.parent_id.is_none() {
                    return Err(ApiError::invalid(
                        "The top organization cannot be moved below another one.",
                    ));
                }
                if find_organization(tx, parent_id)?.is_none() {
                    return Err(ApiError::NotFound("Parent organization not found.".into()));
                }
                if is_within(tx, parent_id, org_id)? {
                    return Err(ApiError::invalid(
                        "The parameter 'parent_id' names the organization itself or one below \
                         it.",
                    ));
                }
                note("parent_id", json!(before.parent_id), json!(parent_id));
                after.parent_id = Some(parent_id);
            }
            update_organization(tx, &after)?;
            if before.active && !after.active {
                let orgs = subtree_ids(tx, org_id)?;
                for user_id in user_ids_in_organizations(tx, &orgs)? {
                    revoke_sessions_of_user(tx, user_id)?;
                }
            }
            if !details.is_empty() {
                insert_activity(
                    tx,
                    &NewActivity {
                        organization_id: Some(org_id),
                        target_organization_id: Some(org_id),
                        details: Value::Object(details),
                        ..NewActivity::by(&caller, now, "organization.update")
                    },
                )?;
            }
            view(tx, after)
        })
        .await
}

/// Deletes an organization. One with users, roots, machines or sub-organizations needs
/// `recursive`, which deletes all of them; the top organization is never deleted.
pub async fn delete_organization_tree(
    context: &Context,
    caller: &Caller,
    org_id: i64,
    recursive: bool,
) -> ApiResult<()> {
    decide(caller, Action::ManageOrganizations, &Subject::Server)?;
    let now = context.now_text();
    let caller = caller.clone();
    let removed = context
        .db
        .write(move |tx| {
            let org = find_organization(tx, org_id)?
                .ok_or_else(|| ApiError::not_found("Organization"))?;
            if org.parent_id.is_none() {
                return Err(ApiError::forbidden("The top organization cannot be deleted."));
            }
            if !recursive && has_contents(tx, org_id)? {
                return Err(ApiError::conflict(
                    "The organization is not empty: it has users, roots, machines or \
                     sub-organizations. Delete them first, or pass recursive=true.",
                ));
            }
            // Deepest first, so each organization is empty of children when it goes.
            let orgs = subtree_ids(tx, org_id)?;
            if orgs.contains(&caller.organization_id) {
                return Err(ApiError::forbidden(
                    "You cannot delete the organization you belong to.",
                ));
            }
            let users = user_ids_in_organizations(tx, &orgs)?;
            let roots = list_roots_of(tx, &orgs, &users)?;
            let root_ids = roots.iter().map(|root| root.id).collect::<Vec<_>>();
            let removed = roots
                .into_iter()
                .map(|root| delete_root_rows(tx, root))
                .collect::<ApiResult<Vec<_>>>()?;
            delete_machines_in_organizations(tx, &orgs)?;
            for user_id in &users {
                delete_user(tx, *user_id)?;
            }
            for id in &orgs {
                delete_organization(tx, *id)?;
            }
            insert_activity(
                tx,
                &NewActivity {
                    organization_id: org.parent_id,
                    target_organization_id: Some(org_id),
                    details: json!({
                        "name": org.name,
                        "recursive": recursive,
                        "organizations": orgs,
                        "users": users,
                        "roots": root_ids,
                    }),
                    ..NewActivity::by(&caller, now, "organization.delete")
                },
            )?;
            Ok(removed)
        })
        .await?;
    remove_root_files(context, removed).await;
    Ok(())
}

fn check_name(text: &str) -> ApiResult<String> {
    let name = text.trim();
    if name.is_empty() {
        return Err(ApiError::missing("name"));
    }
    if name.chars().count() > NAME_MAX_CHARS || name.chars().any(char::is_control) {
        return Err(ApiError::invalid(format!(
            "The parameter 'name' must be at most {NAME_MAX_CHARS} characters on one line."
        )));
    }
    Ok(name.to_string())
}

fn check_description(text: Option<String>) -> ApiResult<Option<String>> {
    let Some(text) = text.map(|t| t.trim().to_string()).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if text.chars().count() > 2000 {
        return Err(ApiError::invalid(
            "The parameter 'description' must be at most 2000 characters.",
        ));
    }
    Ok(Some(text))
}
