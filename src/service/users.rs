//! Managing users: create, update, delete, read and list.
//!
//! Every entry point asks `domain::access::decide` with facts read in its own transaction, so
//! the rule and the change see the same data. Passwords are hashed (and a current password
//! checked) with bcrypt outside the write transaction; the change itself, its session
//! revocations and its activity entry are one transaction. Root folders of a deleted user are
//! removed from disk only after that transaction committed.

use rusqlite::Connection;
use serde_json::{Map, Value, json};

use crate::db::activity::{NewActivity, insert_activity};
use crate::db::orgs::{find_organization, organization_chain_active, subtree_ids};
use crate::db::policies::get_policies;
use crate::db::roots::{
    NewRoot, insert_root, list_roots_owned_by, move_personal_roots, space_used_by_owner,
    transfer_roots,
};
use crate::db::sessions::{revoke_other_sessions_of_user, revoke_sessions_of_user};
use crate::db::users::{
    NewUser, UserFilter, UserRow, count_users_matching, delete_user as delete_user_row, find_user,
    insert_user, list_users as list_user_rows, update_user as update_user_row,
};
use crate::domain::access::{Action, Subject, decide};
use crate::domain::two_step::{
    DEFAULT_TOTP_ISSUER, authenticator_setup, check_mode_requirements, is_phone_number,
};
use crate::domain::{Caller, Role, RootType, TwoStepMode};
use crate::error::{ApiError, ApiResult, ResultExt};
use crate::secrets;
use crate::service::Context;
use crate::service::access::caller_reaches_org;
use crate::service::roots::{RemovedRoot, delete_root_rows, remove_root_files};
use crate::service::setup::SYNC_ROOT_NAME;
use crate::storage;

/// The longest user name accepted.
pub const USERNAME_MAX_CHARS: usize = 100;

/// What a caller asked to set on a user. For create, absent fields take their defaults; for
/// update, absent fields stay as they are. `Some(None)` clears a field that may be empty.
#[derive(Clone, Debug, Default)]
pub struct UserChanges {
    pub username: Option<String>,
    pub password: Option<String>,
    pub generate_password: bool,
    pub email: Option<Option<String>>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub organization_id: Option<i64>,
    pub role: Option<String>,
    pub space_quota: Option<Option<i64>>,
    pub two_step_mode: Option<String>,
    pub mobile_phone: Option<Option<String>>,
    /// Update only.
    pub active: Option<bool>,
    /// Update only: required when callers change their own password.
    pub current_password: Option<String>,
    /// Create only: whether to make the user's `Sync` root (default true).
    pub create_root: Option<bool>,
}

/// The secret and URL an authenticator app is set up with; shown once.
#[derive(Debug)]
pub struct AuthenticatorEnrollment {
    pub totp_secret: String,
    pub otpauth_url: String,
}

/// A user as the API shows them.
#[derive(Debug)]
pub struct UserView {
    pub user: UserRow,
    /// Bytes stored in the roots the user owns.
    pub space_used: i64,
    /// A password the server chose, shown once.
    pub generated_password: Option<String>,
    /// Authenticator set-up, shown once.
    pub enrollment: Option<AuthenticatorEnrollment>,
}

/// A page of users and how many match in all.
#[derive(Debug)]
pub struct UserPage {
    pub users: Vec<(UserRow, i64)>,
    pub total: i64,
}

/// The facts `decide` needs about a user.
pub fn user_subject(conn: &Connection, caller: &Caller, user: &UserRow) -> ApiResult<Subject> {
    Ok(Subject::User {
        id: user.id,
        role: user.role,
        caller_reaches_org: caller_reaches_org(conn, caller, user.organization_id)?,
    })
}

/// Checks that the caller may do `action` to an organization: 403 when their role never may
/// (decided before the organization is even looked up, so that nothing is revealed), 404 when
/// it does not exist or is out of reach.
pub fn org_for(conn: &Connection, caller: &Caller, org_id: i64, action: Action) -> ApiResult<()> {
    decide(caller, action, &Subject::Server)?;
    if find_organization(conn, org_id)?.is_none() {
        return Err(ApiError::not_found("Organization"));
    }
    let caller_reaches_org = caller_reaches_org(conn, caller, org_id)?;
    decide(caller, action, &Subject::Organization { caller_reaches_org })
}

/// A user as sign-in sees them: inactive when their organization or one above it is
/// inactive, whatever their own flag says.
pub fn apply_organization_active(conn: &Connection, mut user: UserRow) -> ApiResult<UserRow> {
    if user.active && !organization_chain_active(conn, user.organization_id)? {
        user.active = false;
    }
    Ok(user)
}

/// Loads a user the caller may do `action` to: 403 when their role never may (decided before
/// the user is looked up), 404 when the user does not exist or is out of reach.
pub fn user_for(
    conn: &Connection,
    caller: &Caller,
    user_id: i64,
    action: Action,
) -> ApiResult<UserRow> {
    decide(caller, action, &Subject::Server)?;
    let user = find_user(conn, user_id)?.ok_or_else(|| ApiError::not_found("User"))?;
    decide(caller, action, &user_subject(conn, caller, &user)?)?;
    Ok(user)
}

/// Creates a user, with a `Sync` root unless `create_root` is false.
pub async fn create_user(
    context: &Context,
    caller: &Caller,
    changes: UserChanges,
) -> ApiResult<UserView> {
    let username = check_username(changes.username.as_deref().unwrap_or_default())?;
    let role = parse_role(changes.role.as_deref())?.unwrap_or(Role::User);
    let mode = parse_mode(changes.two_step_mode.as_deref())?.unwrap_or(TwoStepMode::None);
    let email = check_optional_email(changes.email.clone().flatten())?;
    let phone = check_optional_phone(changes.mobile_phone.clone().flatten())?;
    let first_name = check_name("first_name", changes.first_name.as_deref().unwrap_or_default())?;
    let last_name = check_name("last_name", changes.last_name.as_deref().unwrap_or_default())?;
    check_quota(changes.space_quota)?;
    check_mode_requirements(mode, email.as_deref(), phone.as_deref())?;
    let password = match (&changes.password, changes.generate_password) {
        (Some(_), true) => {
            return Err(ApiError::invalid(
                "Give either 'password' or 'generate_password=true', not both.",
            ));
        }
        (Some(password), false) => password.clone(),
        (None, true) => secrets::generate_password(),
        (None, false) => {
            return Err(ApiError::invalid(
                "The parameter 'password' is required (or 'generate_password=true').",
            ));
        }
    };
    let organization_id = changes.organization_id.unwrap_or(caller.organization_id);

    // Fail fast, before the slow hash, when the caller may not create this user.
    let min_length = {
        let caller = caller.clone();
        context
            .db
            .read(move |conn| {
                authorize_create(conn, &caller, organization_id, role)?;
                Ok(get_policies(conn)?.password_min_length)
            })
            .await?
    };
    check_password_length(&password, min_length)?;
    let hash = hash(context, &password).await?;

    let now = context.now_text();
    let caller = caller.clone();
    let data_dir = context.data_dir.clone();
    let create_root = changes.create_root.unwrap_or(true);
    let space_quota = changes.space_quota;
    let (user, enrollment) = context
        .db
        .write(move |tx| {
            authorize_create(tx, &caller, organization_id, role)?;
            let space_quota = match space_quota {
                Some(quota) => quota,
                None => get_policies(tx)?.default_user_quota,
            };
            let user_id = insert_user(
                tx,
                &NewUser {
                    username: &username,
                    email: email.as_deref(),
                    password_hash: &hash,
                    first_name: &first_name,
                    last_name: &last_name,
                    organization_id,
                    role,
                    two_step_mode: mode,
                    mobile_phone: phone.as_deref(),
                    totp_secret: None,
                    space_quota,
                    created: &now,
                },
            )
            .on_unique("users.username", || {
                ApiError::conflict(format!("The user name '{username}' is taken."))
            })
            .map_err(|error| email_taken(error, email.as_deref()))?;
            let mut user = find_user(tx, user_id)?.ok_or_else(|| ApiError::not_found("User"))?;
            let enrollment = if mode == TwoStepMode::Authenticator {
                let enrollment = Some(enroll_authenticator(&user)?);
                user.totp_secret = enrollment.as_ref().map(|e| e.totp_secret.clone());
                update_user_row(tx, &user)?;
                enrollment
            } else {
                None
            };
            let root_id = if create_root {
                let root_id = insert_root(
                    tx,
                    &NewRoot {
                        name: SYNC_ROOT_NAME,
                        root_type: RootType::Sync,
                        owner_id: Some(user_id),
                        organization_id,
                        machine_id: None,
                        path: None,
                        space_quota: None,
                        created: &now,
                    },
                )?;
                storage::create_root_dir(&data_dir, root_id)?;
                Some(root_id)
            } else {
                None
            };
            insert_activity(
                tx,
                &NewActivity {
                    organization_id: Some(organization_id),
                    target_user_id: Some(user_id),
                    target_organization_id: Some(organization_id),
                    root_id,
                    details: json!({
                        "username": user.username,
                        "role": role.as_str(),
                        "generated_password": changes.generate_password,
                    }),
                    ..NewActivity::by(&caller, now.clone(), "user.create")
                },
            )?;
            Ok((user, enrollment))
        })
        .await?;
    Ok(UserView {
        user,
        space_used: 0,
        generated_password: changes.generate_password.then_some(password),
        enrollment,
    })
}

fn authorize_create(conn: &Connection, caller: &Caller, org_id: i64, role: Role) -> ApiResult<()> {
    decide(caller, Action::AssignRole(role), &Subject::Server)?;
    org_for(conn, caller, org_id, Action::PlaceUser)
}

/// Sets up an authenticator app for a user switching to `authenticator` mode: a new RFC 6238
/// secret, which the caller stores and the API shows once with its `otpauth://` URL.
fn enroll_authenticator(user: &UserRow) -> ApiResult<AuthenticatorEnrollment> {
    let setup = authenticator_setup(&user.username, DEFAULT_TOTP_ISSUER)?;
    Ok(AuthenticatorEnrollment { totp_secret: setup.secret_base32, otpauth_url: setup.otpauth_url })
}

/// Reads one user.
pub async fn get_user(context: &Context, caller: &Caller, user_id: i64) -> ApiResult<UserView> {
    let caller = caller.clone();
    context
        .db
        .read(move |conn| {
            let user = user_for(conn, &caller, user_id, Action::ReadUser)?;
            Ok(UserView {
                space_used: space_used_by_owner(conn, user.id)?,
                user,
                generated_password: None,
                enrollment: None,
            })
        })
        .await
}

/// Lists users: those of `organization_id` when given, else everyone in the caller's reach.
pub async fn list_users(
    context: &Context,
    caller: &Caller,
    organization_id: Option<i64>,
    query: Option<String>,
    offset: i64,
    limit: i64,
) -> ApiResult<UserPage> {
    let caller = caller.clone();
    context
        .db
        .read(move |conn| {
            let organization_ids = match organization_id {
                Some(org_id) => {
                    org_for(conn, &caller, org_id, Action::ListUsers)?;
                    Some(vec![org_id])
                }
                None => {
                    decide(&caller, Action::ListUsers, &Subject::Server)?;
                    match caller.role {
                        Role::SystemAdmin => None,
                        _ => Some(subtree_ids(conn, caller.organization_id)?),
                    }
                }
            };
            let filter = UserFilter {
                organization_ids,
                exclude_role: (caller.role != Role::SystemAdmin).then_some(Role::SystemAdmin),
                query: query.filter(|query| !query.trim().is_empty()),
            };
            Ok(UserPage {
                users: list_user_rows(conn, &filter, offset, limit)?,
                total: count_users_matching(conn, &filter)?,
            })
        })
        .await
}

/// Updates a user. Suspending (`active=false`) revokes all their sessions; a new password
/// revokes their other sessions (all of them when an administrator set it).
pub async fn update_user(
    context: &Context,
    caller: &Caller,
    user_id: i64,
    changes: UserChanges,
) -> ApiResult<UserView> {
    if changes.password.is_some() && changes.generate_password {
        return Err(ApiError::invalid(
            "Give either 'password' or 'generate_password=true', not both.",
        ));
    }
    let changes_password = changes.password.is_some() || changes.generate_password;
    // Check everything but the passwords before any slow hashing.
    let (current_hash, min_length) = {
        let caller = caller.clone();
        let probe = UserChanges { password: None, generate_password: false, ..changes.clone() };
        context
            .db
            .read(move |conn| {
                let before =
                    find_user(conn, user_id)?.ok_or_else(|| ApiError::not_found("User"))?;
                let hash = before.password_hash.clone();
                plan_update(conn, &caller, before, &probe, None)?;
                Ok((hash, get_policies(conn)?.password_min_length))
            })
            .await?
    };
    let is_self = user_id == caller.user_id;
    let new_password = match (&changes.password, changes.generate_password) {
        (Some(password), _) => Some(password.clone()),
        (None, true) => Some(secrets::generate_password()),
        (None, false) => None,
    };
    let new_hash = match &new_password {
        Some(password) => {
            check_password_length(password, min_length)?;
            if is_self {
                let current = changes.current_password.clone().unwrap_or_default();
                if current.is_empty() {
                    return Err(ApiError::invalid(
                        "The parameter 'current_password' is required to change your own \
                         password.",
                    ));
                }
                let ok = context.verify_password(current, current_hash).await?;
                if !ok {
                    return Err(ApiError::forbidden("The parameter 'current_password' is wrong."));
                }
            }
            Some(hash(context, password).await?)
        }
        None => None,
    };

    let now = context.now_text();
    let caller = caller.clone();
    let generate = changes.generate_password;
    let (user, space_used, enrollment) = context
        .db
        .write(move |tx| {
            let before = find_user(tx, user_id)?.ok_or_else(|| ApiError::not_found("User"))?;
            let plan = plan_update(tx, &caller, before.clone(), &changes, new_hash)?;
            let mut after = plan.after;
            let enrollment = if plan.enroll { Some(enroll_authenticator(&after)?) } else { None };
            if plan.enroll {
                after.totp_secret = enrollment.as_ref().map(|e| e.totp_secret.clone());
                after.totp_last_step = None;
            }
            update_user_row(tx, &after)
                .on_unique("users.username", || {
                    ApiError::conflict(format!("The user name '{}' is taken.", after.username))
                })
                .map_err(|error| email_taken(error, after.email.as_deref()))?;
            if after.organization_id != before.organization_id {
                move_personal_roots(tx, user_id, after.organization_id)?;
            }
            if before.active && !after.active {
                revoke_sessions_of_user(tx, user_id)?;
            } else if changes_password {
                if is_self {
                    revoke_other_sessions_of_user(tx, user_id, &caller.token_hash)?;
                } else {
                    revoke_sessions_of_user(tx, user_id)?;
                }
            }
            if !plan.changed.is_empty() {
                insert_activity(
                    tx,
                    &NewActivity {
                        organization_id: Some(after.organization_id),
                        target_user_id: Some(user_id),
                        target_organization_id: Some(after.organization_id),
                        details: Value::Object(plan.details),
                        ..NewActivity::by(&caller, now, "user.update")
                    },
                )?;
            }
            Ok((after, space_used_by_owner(tx, user_id)?, enrollment))
        })
        .await?;
    Ok(UserView {
        user,
        space_used,
        generated_password: if generate { new_password } else { None },
        enrollment,
    })
}

/// The user after an update, and what changed.
struct UpdatePlan {
    after: UserRow,
    changed: Vec<&'static str>,
    details: Map<String, Value>,
    /// Whether the user switches to authenticator mode and needs a new secret.
    enroll: bool,
}

/// Checks every requested change against the rules and applies it to `before`. Runs once
/// before hashing (without the new hash) and again inside the write transaction.
fn plan_update(
    conn: &Connection,
    caller: &Caller,
    before: UserRow,
    changes: &UserChanges,
    new_hash: Option<String>,
) -> ApiResult<UpdatePlan> {
    let subject = user_subject(conn, caller, &before)?;
    let mut after = before.clone();
    let mut changed = Vec::new();
    let mut details = Map::new();
    // The actions this update amounts to, checked together at the end.
    let mut needed = vec![Action::ReadUser];
    let mut new_organization = None;

    // Profile fields: the user themselves and the administrators over them.
    let mut profile = false;
    if let Some(username) = &changes.username {
        let username = check_username(username)?;
        if username != before.username {
            after.username = username;
            changed.push("username");
            profile = true;
        }
    }
    if let Some(email) = &changes.email {
        let email = check_optional_email(email.clone())?;
        if email != before.email {
            after.email = email;
            changed.push("email");
            profile = true;
        }
    }
    if let Some(first_name) = &changes.first_name {
        let first_name = check_name("first_name", first_name)?;
        if first_name != before.first_name {
            after.first_name = first_name;
            changed.push("first_name");
            profile = true;
        }
    }
    if let Some(last_name) = &changes.last_name {
        let last_name = check_name("last_name", last_name)?;
        if last_name != before.last_name {
            after.last_name = last_name;
            changed.push("last_name");
            profile = true;
        }
    }
    if let Some(phone) = &changes.mobile_phone {
        let phone = check_optional_phone(phone.clone())?;
        if phone != before.mobile_phone {
            after.mobile_phone = phone;
            changed.push("mobile_phone");
            profile = true;
        }
    }
    let mut enroll = false;
    if let Some(mode) = parse_mode(changes.two_step_mode.as_deref())?
        && mode != before.two_step_mode
    {
        details.insert(
            "two_step_mode".into(),
            json!({"from": before.two_step_mode.as_str(), "to": mode.as_str()}),
        );
        after.two_step_mode = mode;
        if mode == TwoStepMode::Authenticator {
            enroll = true;
        } else {
            after.totp_secret = None;
            after.totp_last_step = None;
        }
        changed.push("two_step_mode");
        profile = true;
    }
    if changes.password.is_some() || changes.generate_password || new_hash.is_some() {
        if let Some(hash) = new_hash {
            after.password_hash = hash;
        }
        changed.push("password");
        profile = true;
    }
    if profile {
        needed.push(Action::UpdateUserProfile);
    }

    // Administrative fields.
    let mut administration = false;
    if let Some(role) = parse_role(changes.role.as_deref())?
        && role != before.role
    {
        needed.push(Action::AssignRole(role));
        details.insert("role".into(), json!({"from": before.role.as_str(), "to": role.as_str()}));
        after.role = role;
        changed.push("role");
    }
    if let Some(quota) = changes.space_quota {
        check_quota(Some(quota))?;
        if quota != before.space_quota {
            details.insert("space_quota".into(), json!({"from": before.space_quota, "to": quota}));
            after.space_quota = quota;
            changed.push("space_quota");
            administration = true;
        }
    }
    if let Some(active) = changes.active
        && active != before.active
    {
        details.insert("active".into(), json!({"from": before.active, "to": active}));
        after.active = active;
        changed.push("active");
        administration = true;
    }
    if let Some(org_id) = changes.organization_id
        && org_id != before.organization_id
    {
        administration = true;
        new_organization = Some(org_id);
        details.insert(
            "organization_id".into(),
            json!({"from": before.organization_id, "to": org_id}),
        );
        after.organization_id = org_id;
        changed.push("organization_id");
    }
    if administration {
        needed.push(Action::UpdateUserAdministration);
    }
    // What the caller's role can never do answers 403 before reach is looked at (404), the
    // same order `decide` keeps for a single action.
    needed.sort_by_key(|action| matches!(action, Action::ReadUser | Action::UpdateUserProfile));
    for action in &needed {
        decide(caller, *action, &Subject::Server)?;
    }
    for action in needed {
        decide(caller, action, &subject)?;
    }
    if let Some(org_id) = new_organization {
        org_for(conn, caller, org_id, Action::PlaceUser)?;
    }
    check_mode_requirements(
        after.two_step_mode,
        after.email.as_deref(),
        after.mobile_phone.as_deref(),
    )?;
    details.insert("changed".into(), json!(changed));
    Ok(UpdatePlan { after, changed, details, enroll })
}

/// Deletes a user. With `transfer_to`, their roots go to that user (and into that user's
/// organization); without it, their roots are deleted and their folders removed from disk.
pub async fn delete_user(
    context: &Context,
    caller: &Caller,
    user_id: i64,
    transfer_to: Option<i64>,
) -> ApiResult<()> {
    if transfer_to == Some(user_id) {
        return Err(ApiError::invalid("The parameter 'transfer_to' names the user being deleted."));
    }
    let now = context.now_text();
    let caller = caller.clone();
    let removed_roots: Vec<RemovedRoot> = context
        .db
        .write(move |tx| {
            let user = user_for(tx, &caller, user_id, Action::DeleteUser)?;
            let roots = list_roots_owned_by(tx, user_id)?;
            let mut details = json!({
                "username": user.username,
                "roots": roots.iter().map(|root| root.id).collect::<Vec<_>>(),
            });
            let removed = match transfer_to {
                Some(heir_id) => {
                    let heir = find_user(tx, heir_id)?.ok_or_else(|| {
                        ApiError::NotFound("The user named by 'transfer_to' was not found.".into())
                    })?;
                    decide(&caller, Action::ReadUser, &user_subject(tx, &caller, &heir)?).map_err(
                        |_| {
                            ApiError::NotFound(
                                "The user named by 'transfer_to' was not found.".into(),
                            )
                        },
                    )?;
                    transfer_roots(tx, user_id, heir.id, heir.organization_id)?;
                    details["transferred_to"] = json!(heir.id);
                    Vec::new()
                }
                None => roots
                    .into_iter()
                    .map(|root| delete_root_rows(tx, root))
                    .collect::<ApiResult<Vec<_>>>()?,
            };
            delete_user_row(tx, user_id)?;
            insert_activity(
                tx,
                &NewActivity {
                    organization_id: Some(user.organization_id),
                    target_user_id: Some(user_id),
                    target_organization_id: Some(user.organization_id),
                    details,
                    ..NewActivity::by(&caller, now, "user.delete")
                },
            )?;
            Ok(removed)
        })
        .await?;
    remove_root_files(context, removed_roots).await;
    Ok(())
}

async fn hash(context: &Context, password: &str) -> ApiResult<String> {
    context.hash_password(password.to_string()).await
}

/// Turns a unique violation on the email column into a 409 naming the address.
fn email_taken(error: ApiError, email: Option<&str>) -> ApiError {
    match &error {
        ApiError::Database(rusqlite::Error::SqliteFailure(code, Some(message)))
            if code.code == rusqlite::ErrorCode::ConstraintViolation
                && message.contains("users.email") =>
        {
            ApiError::conflict(format!(
                "The email address '{}' is used by another user.",
                email.unwrap_or_default()
            ))
        }
        _ => error,
    }
}

fn parse_role(text: Option<&str>) -> ApiResult<Option<Role>> {
    match text.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => Role::parse(text).map(Some).ok_or_else(|| {
            ApiError::invalid("The parameter 'role' must be user, org_admin or system_admin.")
        }),
    }
}

fn parse_mode(text: Option<&str>) -> ApiResult<Option<TwoStepMode>> {
    match text.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => TwoStepMode::parse(text).map(Some).ok_or_else(|| {
            ApiError::invalid(
                "The parameter 'two_step_mode' must be none, email, sms or authenticator.",
            )
        }),
    }
}

fn check_username(text: &str) -> ApiResult<String> {
    let name = text.trim();
    if name.is_empty() {
        return Err(ApiError::missing("username"));
    }
    if name.chars().count() > USERNAME_MAX_CHARS
        || name.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '@' | '/'))
    {
        return Err(ApiError::invalid(format!(
            "The parameter 'username' must be at most {USERNAME_MAX_CHARS} characters without \
             spaces, '@' or '/'."
        )));
    }
    Ok(name.to_string())
}

fn check_name(field: &str, text: &str) -> ApiResult<String> {
    let name = text.trim();
    if name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(ApiError::invalid(format!(
            "The parameter '{field}' must be at most 200 characters on one line."
        )));
    }
    Ok(name.to_string())
}

/// An email address: empty means none; otherwise `local@domain` without spaces.
pub fn check_optional_email(email: Option<String>) -> ApiResult<Option<String>> {
    let Some(email) = email.map(|e| e.trim().to_string()).filter(|e| !e.is_empty()) else {
        return Ok(None);
    };
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@')
        });
    if !valid {
        return Err(ApiError::invalid("The parameter 'email' is not an email address."));
    }
    Ok(Some(email))
}

fn check_optional_phone(phone: Option<String>) -> ApiResult<Option<String>> {
    let Some(phone) = phone.map(|p| p.trim().to_string()).filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    if !is_phone_number(&phone) {
        return Err(ApiError::invalid(
            "The parameter 'mobile_phone' must be a phone number such as +41 79 123 45 67.",
        ));
    }
    Ok(Some(phone))
}

/// A quota is bytes, zero or more.
pub fn check_quota(quota: Option<Option<i64>>) -> ApiResult<()> {
    if let Some(Some(quota)) = quota
        && quota < 0
    {
        return Err(ApiError::invalid(
            "The parameter 'space_quota' must be a number of bytes, or empty for no limit.",
        ));
    }
    Ok(())
}

fn check_password_length(password: &str, min_length: i64) -> ApiResult<()> {
    let length = i64::try_from(password.chars().count()).unwrap_or(i64::MAX);
    if length < min_length {
        return Err(ApiError::invalid(format!(
            "The parameter 'password' must be at least {min_length} characters long."
        )));
    }
    if password.len() > 72 {
        // bcrypt reads only the first 72 bytes; a longer password would be silently cut.
        return Err(ApiError::invalid("The parameter 'password' must be at most 72 bytes long."));
    }
    Ok(())
}
