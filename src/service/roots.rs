//! Roots: creating, reading, changing and deleting them, and their members.
//!
//! Each entry point authorizes the caller with the rules of `domain::access`, does its work
//! in one transaction and writes its `root.*` activity entry in it. A root's folder is made
//! when the root is made and removed (unless it is a mapped folder) after the root is deleted.

use std::path::PathBuf;

use serde_json::json;

use crate::db::activity::{NewActivity, insert_activity};
use crate::db::orgs::find_organization_exists;
use crate::db::roots::{
    self, MemberRow, NewRoot, RootRow, insert_root, list_all_roots, list_members, machine_owner,
    put_member, remove_member, update_root,
};
use crate::db::users::find_user;
use crate::domain::access::{check_create_root, check_manage_root};
use crate::domain::{Caller, Permission, Role, RootType};
use crate::error::{ApiError, ApiResult};
use crate::service::Context;
use crate::service::access::{caller_reaches_org, root_for, root_level_of};
use crate::storage;

/// The longest root name accepted.
pub const MAX_ROOT_NAME_CHARS: usize = 255;

/// What a caller asks for when creating a root.
#[derive(Debug)]
pub struct CreateRoot {
    pub name: String,
    pub root_type: RootType,
    pub user_id: Option<i64>,
    pub organization_id: Option<i64>,
    pub machine_id: Option<i64>,
    pub space_quota: Option<i64>,
    pub path: Option<String>,
}

/// Checks a root name: not blank, not too long, no control characters. Returns it trimmed.
pub fn clean_root_name(name: &str) -> ApiResult<String> {
    let name = name.trim();
    if name.is_empty() {
        return Err(ApiError::missing("name"));
    }
    if name.chars().count() > MAX_ROOT_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(ApiError::invalid(format!(
            "The parameter 'name' must be at most {MAX_ROOT_NAME_CHARS} printable characters."
        )));
    }
    Ok(name.to_string())
}

/// Checks a quota given by a caller.
pub fn check_quota(space_quota: Option<i64>) -> ApiResult<()> {
    if space_quota.is_some_and(|quota| quota < 0) {
        return Err(ApiError::invalid("The parameter 'space_quota' must be 0 or more bytes."));
    }
    Ok(())
}

/// Roots the caller reaches, optionally only those of a user (owned or as a member) or of an
/// organization. The filters are for administrators.
pub async fn list_roots(
    context: &Context,
    caller: &Caller,
    user_id: Option<i64>,
    organization_id: Option<i64>,
) -> ApiResult<Vec<(RootRow, Permission)>> {
    if (user_id.is_some() || organization_id.is_some()) && !caller.role.is_admin() {
        return Err(ApiError::forbidden(
            "Only administrators may list the roots of other users or organizations.",
        ));
    }
    let caller = caller.clone();
    context
        .db
        .read(move |conn| {
            let member_of: Vec<i64> = match user_id {
                Some(user_id) => roots::list_roots_for_user(conn, user_id)?
                    .into_iter()
                    .map(|(root, _)| root.id)
                    .collect(),
                None => Vec::new(),
            };
            let mut visible = Vec::new();
            for root in list_all_roots(conn)? {
                if user_id.is_some() && !member_of.contains(&root.id) {
                    continue;
                }
                if organization_id.is_some_and(|org| org != root.organization_id) {
                    continue;
                }
                if let Some(level) = root_level_of(conn, &caller, &root)? {
                    visible.push((root, level));
                }
            }
            Ok(visible)
        })
        .await
}

/// Creates a root and its folder.
pub async fn create_root(
    context: &Context,
    caller: &Caller,
    input: CreateRoot,
) -> ApiResult<(RootRow, Permission)> {
    let name = clean_root_name(&input.name)?;
    check_quota(input.space_quota)?;
    let mapped = match &input.path {
        Some(path) => {
            if caller.role != Role::SystemAdmin {
                return Err(ApiError::forbidden(
                    "Only system administrators may map a folder as a root.",
                ));
            }
            Some(check_mapped_folder(context, path)?)
        }
        None => None,
    };
    let now = context.now_text();
    let data_dir = context.data_dir.clone();
    let caller = caller.clone();
    context
        .db
        .write(move |tx| {
            let owner_id = match input.root_type {
                RootType::Sync | RootType::Backup => Some(input.user_id.unwrap_or(caller.user_id)),
                RootType::Share => input.user_id,
            };
            let owner = match owner_id {
                Some(id) => Some(find_user(tx, id)?.ok_or_else(|| ApiError::not_found("User"))?),
                None => None,
            };
            let organization_id = match (input.root_type, &owner) {
                (RootType::Share, _) => input
                    .organization_id
                    .or(owner.as_ref().map(|owner| owner.organization_id))
                    .unwrap_or(caller.organization_id),
                (_, Some(owner)) => {
                    if input.organization_id.is_some_and(|org| org != owner.organization_id) {
                        return Err(ApiError::invalid(
                            "The parameter 'organization_id' must be the owner's organization \
                             for sync and backup roots.",
                        ));
                    }
                    owner.organization_id
                }
                (_, None) => caller.organization_id,
            };
            if !find_organization_exists(tx, organization_id)? {
                return Err(ApiError::not_found("Organization"));
            }
            let reaches = caller_reaches_org(tx, &caller, organization_id)?;
            check_create_root(&caller, input.root_type, owner_id, reaches, mapped.is_some())?;
            match (input.root_type, input.machine_id) {
                (RootType::Backup, None) => return Err(ApiError::missing("machine_id")),
                (RootType::Backup, Some(machine_id)) => {
                    if machine_owner(tx, machine_id)? != owner_id {
                        return Err(ApiError::invalid(
                            "The parameter 'machine_id' must name one of the owner's machines.",
                        ));
                    }
                }
                (_, Some(_)) => {
                    return Err(ApiError::invalid(
                        "The parameter 'machine_id' is only for backup roots.",
                    ));
                }
                (_, None) => {}
            }
            let mapped_text = mapped.as_ref().map(|path| path.to_string_lossy().into_owned());
            let root_id = insert_root(
                tx,
                &NewRoot {
                    name: &name,
                    root_type: input.root_type,
                    owner_id,
                    organization_id,
                    machine_id: input.machine_id,
                    path: mapped_text.as_deref(),
                    space_quota: input.space_quota,
                    created: &now,
                },
            )?;
            if mapped.is_none() {
                storage::create_root_dir(&data_dir, root_id)?;
            }
            let mut entry = NewActivity::by(&caller, now.clone(), "root.create");
            entry.root_id = Some(root_id);
            entry.target_user_id = owner_id;
            entry.target_organization_id = Some(organization_id);
            entry.machine_id = input.machine_id;
            entry.details = json!({
                "name": name,
                "type": input.root_type.as_str(),
                "space_quota": input.space_quota,
                "mapped": mapped.is_some(),
            });
            insert_activity(tx, &entry)?;
            root_for(tx, &caller, root_id, Permission::Read)
        })
        .await
}

fn check_mapped_folder(context: &Context, path: &str) -> ApiResult<PathBuf> {
    let given = PathBuf::from(path);
    if !given.is_absolute() {
        return Err(ApiError::invalid("The parameter 'path' must be an absolute folder path."));
    }
    let folder = given.canonicalize().ok().filter(|folder| folder.is_dir()).ok_or_else(|| {
        ApiError::invalid("The parameter 'path' must name an existing folder on the server.")
    })?;
    let data_dir = context.data_dir.canonicalize()?;
    if folder.starts_with(&data_dir) || data_dir.starts_with(&folder) {
        return Err(ApiError::invalid(
            "The parameter 'path' may not lie inside the data folder or contain it.",
        ));
    }
    Ok(folder)
}

/// A root the caller reaches, with their level.
pub async fn get_root(
    context: &Context,
    caller: &Caller,
    root_id: i64,
) -> ApiResult<(RootRow, Permission)> {
    let caller = caller.clone();
    context.db.read(move |conn| root_for(conn, &caller, root_id, Permission::Read)).await
}

/// Renames a root or changes its quota. Renaming needs `admin` on the root; the quota only
/// administrators over the root's organization change.
pub async fn update_root_settings(
    context: &Context,
    caller: &Caller,
    root_id: i64,
    name: Option<String>,
    space_quota: Option<Option<i64>>,
) -> ApiResult<(RootRow, Permission)> {
    let name = name.map(|name| clean_root_name(&name)).transpose()?;
    if let Some(quota) = space_quota {
        check_quota(quota)?;
    }
    let now = context.now_text();
    let caller = caller.clone();
    context
        .db
        .write(move |tx| {
            let (root, _) = root_for(tx, &caller, root_id, Permission::Admin)?;
            if space_quota.is_some_and(|quota| quota != root.space_quota) {
                check_manage_root(&caller, caller_reaches_org(tx, &caller, root.organization_id)?)?;
            }
            let new_name = name.unwrap_or_else(|| root.name.clone());
            let new_quota = space_quota.unwrap_or(root.space_quota);
            update_root(tx, root_id, &new_name, new_quota)?;
            let mut entry = NewActivity::by(&caller, now, "root.update");
            entry.root_id = Some(root_id);
            entry.details = json!({
                "name": {"from": root.name, "to": new_name},
                "space_quota": {"from": root.space_quota, "to": new_quota},
            });
            insert_activity(tx, &entry)?;
            root_for(tx, &caller, root_id, Permission::Read)
        })
        .await
}

/// Deletes a root with its files. Owners may delete their backup roots; sync and share roots
/// only administrators over the root's organization delete. A mapped folder stays on disk.
pub async fn delete_root(context: &Context, caller: &Caller, root_id: i64) -> ApiResult<()> {
    let now = context.now_text();
    let caller = caller.clone();
    let removed = context
        .db
        .write(move |tx| {
            let (root, _) = root_for(tx, &caller, root_id, Permission::Admin)?;
            let owns_backup =
                root.root_type == RootType::Backup && root.owner_id == Some(caller.user_id);
            if !owns_backup {
                check_manage_root(&caller, caller_reaches_org(tx, &caller, root.organization_id)?)?;
            }
            let mut entry = NewActivity::by(&caller, now, "root.delete");
            entry.root_id = Some(root_id);
            entry.target_user_id = root.owner_id;
            entry.target_organization_id = Some(root.organization_id);
            entry.details = json!({"name": root.name, "type": root.root_type.as_str()});
            insert_activity(tx, &entry)?;
            delete_root_rows(tx, root)
        })
        .await?;
    remove_root_files(context, vec![removed]).await;
    Ok(())
}

/// A root whose rows are deleted and whose files are still to be removed from disk.
#[derive(Debug)]
pub struct RemovedRoot {
    pub root: RootRow,
    /// Old and deleted versions of its files kept in `<data-dir>/revisions/`.
    pub kept_versions: Vec<String>,
}

/// Deletes a root's rows inside the caller's transaction (members and index entries cascade),
/// and answers what must leave the disk once that transaction has committed.
pub fn delete_root_rows(tx: &rusqlite::Connection, root: RootRow) -> ApiResult<RemovedRoot> {
    let kept_versions = crate::db::entries::stored_revs_of_root(tx, root.id)?;
    roots::delete_root(tx, root.id)?;
    Ok(RemovedRoot { root, kept_versions })
}

/// Removes the files of deleted roots: their kept versions, and their folders unless mapped.
/// Called after the deleting transaction committed; a failure is logged, not returned, since
/// the roots are gone from the index and a leftover file only costs disk space.
pub async fn remove_root_files(context: &Context, removed: Vec<RemovedRoot>) {
    if removed.is_empty() {
        return;
    }
    let data_dir = context.data_dir.clone();
    // Removing whole trees can take a while: off the async threads.
    let outcome = crate::db::Db::blocking(move || {
        for RemovedRoot { root, kept_versions } in removed {
            storage::files::remove_kept_versions(&data_dir, kept_versions);
            if let Err(error) = storage::remove_root_dir(&data_dir, &root) {
                tracing::warn!(root_id = root.id, %error, "could not remove a deleted root's folder");
            }
        }
        Ok(())
    })
    .await;
    if let Err(error) = outcome {
        tracing::warn!(%error, "could not remove deleted roots' files");
    }
}

/// The members of a root; anyone who reads the root sees who else does.
pub async fn members(
    context: &Context,
    caller: &Caller,
    root_id: i64,
) -> ApiResult<Vec<MemberRow>> {
    let caller = caller.clone();
    context
        .db
        .read(move |conn| {
            root_for(conn, &caller, root_id, Permission::Read)?;
            Ok(list_members(conn, root_id)?)
        })
        .await
}

/// Adds a member or changes their level; needs `admin` on the root. The new member must be
/// in the root's organization (or below it), or in the caller's reach as an administrator.
pub async fn add_member(
    context: &Context,
    caller: &Caller,
    root_id: i64,
    user_id: i64,
    permission: Permission,
) -> ApiResult<MemberRow> {
    let now = context.now_text();
    let caller = caller.clone();
    context
        .db
        .write(move |tx| {
            let (root, _) = root_for(tx, &caller, root_id, Permission::Admin)?;
            let user = find_user(tx, user_id)?.ok_or_else(|| ApiError::not_found("User"))?;
            let in_root_org =
                crate::db::orgs::is_within(tx, user.organization_id, root.organization_id)?;
            if !in_root_org && !caller_reaches_org(tx, &caller, user.organization_id)? {
                return Err(ApiError::not_found("User"));
            }
            if root.owner_id == Some(user_id) {
                return Err(ApiError::invalid(
                    "This user owns the root and already has the 'admin' permission on it.",
                ));
            }
            put_member(tx, root_id, user_id, permission)?;
            let mut entry = NewActivity::by(&caller, now, "root.member_add");
            entry.root_id = Some(root_id);
            entry.target_user_id = Some(user_id);
            entry.details = json!({"permission": permission.as_str()});
            insert_activity(tx, &entry)?;
            Ok(MemberRow { user_id, username: user.username, permission })
        })
        .await
}

/// Removes a member; needs `admin` on the root.
pub async fn remove_root_member(
    context: &Context,
    caller: &Caller,
    root_id: i64,
    user_id: i64,
) -> ApiResult<()> {
    let now = context.now_text();
    let caller = caller.clone();
    context
        .db
        .write(move |tx| {
            root_for(tx, &caller, root_id, Permission::Admin)?;
            if !remove_member(tx, root_id, user_id)? {
                return Err(ApiError::not_found("Member"));
            }
            let mut entry = NewActivity::by(&caller, now, "root.member_remove");
            entry.root_id = Some(root_id);
            entry.target_user_id = Some(user_id);
            insert_activity(tx, &entry)?;
            Ok(())
        })
        .await
}
