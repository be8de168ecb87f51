//! Machines: the agents that sync and back up register themselves and check in.

use chrono::Duration;
use serde_json::json;

use crate::clock::parse_time;
use crate::db::activity::{NewActivity, insert_activity};
use crate::db::machines::{
    MachineFields, MachineRow, MachineScope, backup_root_ids, check_in_machine, delete_machine,
    find_machine, find_machine_by_guid, insert_machine, list_machines, update_machine_fields,
};
use crate::db::roots::find_root;
use crate::db::users::find_user;
use crate::domain::access::may_manage_owned;
use crate::domain::{Caller, Role};
use crate::error::{ApiError, ApiResult};
use crate::service::Context;
use crate::service::access::caller_reaches_org;
use crate::service::roots::{delete_root_rows, remove_root_files};

/// The kinds of machine an agent may say it is.
pub const MACHINE_TYPES: &[&str] = &["agent", "server", "mobile"];
/// The operating systems an agent may say it runs.
pub const OS_TYPES: &[&str] = &["windows", "macos", "linux", "android", "ios", "other"];
/// A machine seen within this many minutes is online.
pub const ONLINE_MINUTES: i64 = 10;
/// The longest accepted free-text field (names, versions).
const MAX_FIELD_CHARS: usize = 255;
/// The longest accepted status text.
const MAX_STATUS_CHARS: usize = 4096;

/// A machine with what is derived from it.
#[derive(Debug)]
pub struct MachineView {
    pub machine: MachineRow,
    /// Seen within the last [`ONLINE_MINUTES`].
    pub online: bool,
    pub backup_roots: Vec<i64>,
}

/// What an agent sends to register.
#[derive(Debug)]
pub struct Registration {
    pub guid: String,
    pub name: Option<String>,
    pub hostname: String,
    pub machine_type: Option<String>,
    pub os_type: String,
    pub os_version: String,
    pub agent_version: String,
}

/// Registers the caller's machine, or refreshes it when its guid is known. Answers the
/// machine and whether it is new.
pub async fn register(
    context: &Context,
    caller: &Caller,
    registration: Registration,
) -> ApiResult<(MachineView, bool)> {
    let registration = validate_registration(registration)?;
    let now = context.now_text();
    let caller = caller.clone();
    let (id, created) = context
        .db
        .write(move |tx| {
            let fields = MachineFields {
                name: registration.name.as_deref().unwrap_or_default(),
                hostname: &registration.hostname,
                machine_type: registration.machine_type.as_deref().unwrap_or_default(),
                os_type: &registration.os_type,
                os_version: &registration.os_version,
                agent_version: &registration.agent_version,
            };
            let (id, created) = match find_machine_by_guid(tx, &registration.guid)? {
                Some(known) if known.user_id != caller.user_id => {
                    return Err(ApiError::conflict(
                        "A machine with this guid is registered to another user.",
                    ));
                }
                Some(known) => {
                    update_machine_fields(tx, known.id, &fields, &now, &caller.ip)?;
                    (known.id, false)
                }
                None => {
                    let id = insert_machine(
                        tx,
                        &registration.guid,
                        &fields,
                        caller.user_id,
                        caller.organization_id,
                        &now,
                        &caller.ip,
                    )?;
                    (id, true)
                }
            };
            insert_activity(tx, &NewActivity {
                machine_id: Some(id),
                target_user_id: Some(caller.user_id),
                details: json!({"guid": registration.guid, "new": created, "name": fields.name}),
                ..NewActivity::by(&caller, now.clone(), "machine.register")
            })?;
            Ok((id, created))
        })
        .await?;
    Ok((view(context, id).await?, created))
}

/// Records a check-in of one of the caller's own machines.
pub async fn check_in(
    context: &Context,
    caller: &Caller,
    id: i64,
    status: Option<String>,
    agent_version: Option<String>,
) -> ApiResult<MachineView> {
    if let Some(status) = &status {
        check_text("status", status, MAX_STATUS_CHARS, false)?;
    }
    if let Some(version) = &agent_version {
        check_text("agent_version", version, MAX_FIELD_CHARS, true)?;
    }
    let now = context.now_text();
    let (user_id, ip) = (caller.user_id, caller.ip.clone());
    context
        .db
        .write(move |tx| {
            // Only the agent's own user checks it in; to anyone else it does not exist.
            match find_machine(tx, id)? {
                Some(machine) if machine.user_id == user_id => {}
                _ => return Err(machine_not_found()),
            }
            check_in_machine(tx, id, &now, &ip, status.as_deref(), agent_version.as_deref())?;
            Ok(())
        })
        .await?;
    view(context, id).await
}

/// Reads one machine the caller may see.
pub async fn get(context: &Context, caller: &Caller, id: i64) -> ApiResult<MachineView> {
    let caller = caller.clone();
    context
        .db
        .read(move |conn| {
            let machine = find_machine(conn, id)?.ok_or_else(machine_not_found)?;
            let reaches = caller_reaches_org(conn, &caller, machine.organization_id)?;
            if !may_manage_owned(&caller, machine.user_id, reaches) {
                return Err(machine_not_found());
            }
            Ok(())
        })
        .await?;
    view(context, id).await
}

/// Which machines to list.
#[derive(Debug, Default)]
pub struct MachineFilter {
    pub user_id: Option<i64>,
    pub organization_id: Option<i64>,
    pub offset: i64,
    pub limit: i64,
}

/// Lists machines: a user's own; an admin's whole reach, or one user or organization in it.
pub async fn list(
    context: &Context,
    caller: &Caller,
    filter: MachineFilter,
) -> ApiResult<(Vec<MachineView>, i64)> {
    let caller = caller.clone();
    let now = context.clock.now();
    context
        .db
        .read(move |conn| {
            let scope = match (filter.user_id, filter.organization_id) {
                (Some(user_id), _) if user_id == caller.user_id => MachineScope::User(user_id),
                (Some(user_id), _) => {
                    let user = find_user(conn, user_id)?.ok_or_else(user_not_found)?;
                    let reaches = caller_reaches_org(conn, &caller, user.organization_id)?;
                    if !may_manage_owned(&caller, user.id, reaches) {
                        return Err(user_not_found());
                    }
                    MachineScope::User(user_id)
                }
                (None, Some(org_id)) => {
                    if !caller.role.is_admin() {
                        return Err(ApiError::forbidden(
                            "Only administrators may list the machines of an organization.",
                        ));
                    }
                    if !caller_reaches_org(conn, &caller, org_id)? {
                        return Err(ApiError::not_found("Organization"));
                    }
                    MachineScope::OrganizationTree(org_id)
                }
                (None, None) => match caller.role {
                    Role::User => MachineScope::User(caller.user_id),
                    Role::OrgAdmin => MachineScope::OrganizationTree(caller.organization_id),
                    Role::SystemAdmin => MachineScope::All,
                },
            };
            let (machines, total) = list_machines(conn, scope, filter.offset, filter.limit)?;
            let views = machines
                .into_iter()
                .map(|machine| {
                    let backup_roots = backup_root_ids(conn, machine.id)?;
                    Ok(MachineView { online: is_online(&machine, now), backup_roots, machine })
                })
                .collect::<ApiResult<Vec<_>>>()?;
            Ok((views, total))
        })
        .await
}

/// What deleting a machine did with its backup roots.
#[derive(Debug, Default)]
pub struct MachineRemoval {
    /// Backup roots kept with their files, no longer tied to a machine.
    pub kept_backup_roots: Vec<i64>,
    /// Backup roots deleted with their files, when asked for.
    pub deleted_backup_roots: Vec<i64>,
}

/// Deletes a machine the caller may manage. Its backup roots and their files are kept,
/// untied from the machine, unless `delete_backup_roots` asks for them to go too.
pub async fn delete(
    context: &Context,
    caller: &Caller,
    id: i64,
    delete_backup_roots: bool,
) -> ApiResult<MachineRemoval> {
    let now = context.now_text();
    let caller = caller.clone();
    let (removal, removed_roots) = context
        .db
        .write(move |tx| {
            let machine = find_machine(tx, id)?.ok_or_else(machine_not_found)?;
            let reaches = caller_reaches_org(tx, &caller, machine.organization_id)?;
            if !may_manage_owned(&caller, machine.user_id, reaches) {
                return Err(machine_not_found());
            }
            let backups = backup_root_ids(tx, id)?;
            let mut removal = MachineRemoval::default();
            let mut removed_roots = Vec::new();
            if delete_backup_roots {
                for root_id in backups {
                    if let Some(root) = find_root(tx, root_id)? {
                        removed_roots.push(delete_root_rows(tx, root)?);
                        removal.deleted_backup_roots.push(root_id);
                    }
                }
            } else {
                removal.kept_backup_roots = backups;
            }
            delete_machine(tx, id)?;
            insert_activity(
                tx,
                &NewActivity {
                    machine_id: Some(id),
                    target_user_id: Some(machine.user_id),
                    target_organization_id: Some(machine.organization_id),
                    details: json!({"guid": machine.guid, "name": machine.name,
                                "kept_backup_roots": removal.kept_backup_roots,
                                "deleted_backup_roots": removal.deleted_backup_roots}),
                    ..NewActivity::by(&caller, now, "machine.delete")
                },
            )?;
            Ok((removal, removed_roots))
        })
        .await?;
    remove_root_files(context, removed_roots).await;
    Ok(removal)
}

async fn view(context: &Context, id: i64) -> ApiResult<MachineView> {
    let now = context.clock.now();
    context
        .db
        .read(move |conn| {
            let machine = find_machine(conn, id)?.ok_or_else(machine_not_found)?;
            Ok(MachineView {
                online: is_online(&machine, now),
                backup_roots: backup_root_ids(conn, id)?,
                machine,
            })
        })
        .await
}

fn is_online(machine: &MachineRow, now: chrono::DateTime<chrono::Utc>) -> bool {
    machine
        .last_seen
        .as_deref()
        .and_then(parse_time)
        .is_some_and(|seen| now - seen < Duration::minutes(ONLINE_MINUTES))
}

fn validate_registration(mut registration: Registration) -> ApiResult<Registration> {
    registration.guid = registration.guid.trim().to_string();
    if registration.guid.is_empty() {
        return Err(ApiError::missing("guid"));
    }
    check_text("guid", &registration.guid, MAX_FIELD_CHARS, true)?;
    registration.machine_type = Some(known_value(
        "machine_type",
        registration.machine_type.as_deref().unwrap_or("agent"),
        MACHINE_TYPES,
    )?);
    if !registration.os_type.trim().is_empty() {
        registration.os_type = known_value("os_type", &registration.os_type, OS_TYPES)?;
    }
    for (field, value) in [
        ("name", registration.name.as_deref().unwrap_or_default()),
        ("hostname", registration.hostname.as_str()),
        ("os_version", registration.os_version.as_str()),
        ("agent_version", registration.agent_version.as_str()),
    ] {
        check_text(field, value, MAX_FIELD_CHARS, true)?;
    }
    // A machine without a name is called by its host name, or else by its guid.
    let name = [registration.name.as_deref().unwrap_or_default(), registration.hostname.as_str()]
        .into_iter()
        .map(str::trim)
        .find(|candidate| !candidate.is_empty())
        .unwrap_or(&registration.guid)
        .to_string();
    registration.name = Some(name);
    Ok(registration)
}

fn known_value(field: &str, value: &str, known: &[&str]) -> ApiResult<String> {
    let lowered = value.trim().to_ascii_lowercase();
    if known.contains(&lowered.as_str()) {
        return Ok(lowered);
    }
    Err(ApiError::invalid(format!("The parameter '{field}' must be one of: {}.", known.join(", "))))
}

/// Checks a free-text field's length, and that a one-line field has no control characters
/// (a multi-line status may hold line breaks and tabs, but no other control characters).
fn check_text(field: &str, value: &str, max: usize, single_line: bool) -> ApiResult<()> {
    if value.chars().count() > max {
        return Err(ApiError::invalid(format!(
            "The parameter '{field}' is longer than {max} characters."
        )));
    }
    let forbidden = |c: char| c.is_control() && (single_line || !matches!(c, '\n' | '\r' | '\t'));
    if value.chars().any(forbidden) {
        return Err(ApiError::invalid(format!(
            "The parameter '{field}' must not contain control characters."
        )));
    }
    Ok(())
}

fn machine_not_found() -> ApiError {
    ApiError::not_found("Machine")
}

fn user_not_found() -> ApiError {
    ApiError::not_found("User")
}
