//! Who may do what: the permission rules every endpoint asks.
//!
//! Rules here are pure functions of facts the service layer has already read (the caller,
//! the target's organization ancestry, the caller's level on a root). They answer with the
//! error the client should see, so an endpoint cannot forget to pick one.

use crate::db::roots::RootRow;
use crate::domain::{Caller, Permission, Role, RootType};
use crate::error::{ApiError, ApiResult};

/// The caller's level on a root, from the facts about it:
/// - the owner of a root has `admin` on it;
/// - a member has the level they were given;
/// - a system admin, and an org admin whose organization contains the root's organization
///   (`caller_reaches_root_org`), have `admin` on it, so that they can manage it and its files;
/// - anyone else has no level, and the root is invisible to them.
pub fn root_level(
    caller: &Caller,
    root: &RootRow,
    member: Option<Permission>,
    caller_reaches_root_org: bool,
) -> Option<Permission> {
    if root.owner_id == Some(caller.user_id)
        || caller.role == Role::SystemAdmin
        || (caller.role == Role::OrgAdmin && caller_reaches_root_org)
    {
        return Some(Permission::Admin);
    }
    member
}

/// Checks that a level suffices: no level at all answers 404 (the root stays invisible), a
/// level below `needed` answers 403 naming the level required.
pub fn require_level(level: Option<Permission>, needed: Permission) -> ApiResult<Permission> {
    match level {
        None => Err(ApiError::not_found("Root")),
        Some(level) if level >= needed => Ok(level),
        Some(_) => {
            Err(ApiError::forbidden(format!("This needs the '{needed}' permission on the root.")))
        }
    }
}

/// Whether the caller may see and manage something a user owns (a machine, a share link):
/// the owner may, and so may an administrator whose reach covers the owner's organization.
pub fn may_manage_owned(caller: &Caller, owner_id: i64, caller_reaches_owner_org: bool) -> bool {
    owner_id == caller.user_id
        || caller.role == Role::SystemAdmin
        || (caller.role == Role::OrgAdmin && caller_reaches_owner_org)
}

/// Who may create a root of a kind for an owner (or, for shares, an organization):
/// - a mapped folder (`path`) only a system admin;
/// - a `backup` root the owner themselves, or an admin who reaches the owner;
/// - `sync` and `share` roots only admins, for users and organizations they reach.
pub fn check_create_root(
    caller: &Caller,
    root_type: RootType,
    owner_id: Option<i64>,
    caller_reaches_target_org: bool,
    maps_a_folder: bool,
) -> ApiResult<()> {
    if maps_a_folder && caller.role != Role::SystemAdmin {
        return Err(ApiError::forbidden("Only system administrators may map a folder as a root."));
    }
    let allowed = match root_type {
        RootType::Backup => {
            owner_id == Some(caller.user_id)
                || (caller.role.is_admin() && caller_reaches_target_org)
        }
        RootType::Sync | RootType::Share => caller.role.is_admin() && caller_reaches_target_org,
    };
    if allowed {
        return Ok(());
    }
    Err(ApiError::forbidden(match root_type {
        RootType::Backup => {
            "Backup roots are created by their owner or an administrator over them."
        }
        RootType::Sync | RootType::Share => {
            "Only administrators may create sync and share roots, for users and organizations \
             they manage."
        }
    }))
}

/// Who may change a root's quota or delete a sync or share root: administrators who reach
/// the root's organization. Owners may rename their roots and delete their backups, but not
/// raise their own quota.
pub fn check_manage_root(caller: &Caller, caller_reaches_root_org: bool) -> ApiResult<()> {
    if caller.role.is_admin() && caller_reaches_root_org {
        return Ok(());
    }
    Err(ApiError::forbidden(
        "Only an administrator over the root's organization may change its quota or delete it.",
    ))
}

/// Server-wide settings, which only administrators read and only system admins change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerAction {
    ReadPolicies,
    UpdatePolicies,
}

/// Decides a server-wide action.
pub fn check_server_action(caller: &Caller, action: ServerAction) -> ApiResult<()> {
    let allowed = match action {
        ServerAction::ReadPolicies => caller.role.is_admin(),
        ServerAction::UpdatePolicies => caller.role == Role::SystemAdmin,
    };
    if allowed {
        return Ok(());
    }
    Err(ApiError::forbidden(match action {
        ServerAction::ReadPolicies => "Only administrators may read the policies.",
        ServerAction::UpdatePolicies => "Only system administrators may change the policies.",
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(role: Role) -> Caller {
        Caller {
            user_id: 7,
            username: "someone".into(),
            organization_id: 1,
            role,
            token_hash: String::new(),
            ip: "127.0.0.1".into(),
        }
    }

    fn root(owner_id: Option<i64>) -> RootRow {
        RootRow {
            id: 3,
            name: "Team".into(),
            root_type: crate::domain::RootType::Share,
            owner_id,
            organization_id: 2,
            machine_id: None,
            path: None,
            space_quota: None,
            space_used: 0,
            created: String::new(),
        }
    }

    #[test]
    fn root_levels_by_ownership_membership_and_reach() {
        use Permission::*;
        // (role, owns it, member level, reaches the root's organization, expected level)
        let table = [
            (Role::User, true, None, false, Some(Admin)),
            (Role::User, false, Some(Write), false, Some(Write)),
            (Role::User, false, None, false, None),
            (Role::User, false, None, true, None),
            (Role::OrgAdmin, false, None, true, Some(Admin)),
            (Role::OrgAdmin, false, None, false, None),
            (Role::OrgAdmin, false, Some(Read), false, Some(Read)),
            (Role::SystemAdmin, false, None, false, Some(Admin)),
        ];
        for (role, owns, member, reaches, expected) in table {
            let root = root(if owns { Some(7) } else { Some(99) });
            let got = root_level(&caller(role), &root, member, reaches);
            assert_eq!(got, expected, "{role:?} owns={owns} member={member:?} reaches={reaches}");
        }
    }

    #[test]
    fn owned_objects_by_role_and_reach() {
        // (role, owns it, reaches the owner's organization, expected)
        let table = [
            (Role::User, true, false, true),
            (Role::User, false, false, false),
            (Role::User, false, true, false),
            (Role::OrgAdmin, false, true, true),
            (Role::OrgAdmin, false, false, false),
            (Role::SystemAdmin, false, false, true),
        ];
        for (role, owns, reaches, expected) in table {
            let owner = if owns { 7 } else { 99 };
            let got = may_manage_owned(&caller(role), owner, reaches);
            assert_eq!(got, expected, "{role:?} owns={owns} reaches={reaches}");
        }
    }

    #[test]
    fn required_levels() {
        use Permission::*;
        assert!(matches!(require_level(None, Read), Err(ApiError::NotFound(_))));
        assert!(matches!(require_level(Some(Read), Write), Err(ApiError::Forbidden(_))));
        assert_eq!(require_level(Some(Delete), Write).unwrap(), Delete);
        assert_eq!(require_level(Some(Admin), Admin).unwrap(), Admin);
    }

    #[test]
    fn root_creation_by_role_and_kind() {
        use RootType::*;
        // (role, type, owner is caller, reaches target org, maps a folder, allowed)
        let table = [
            (Role::User, Backup, true, false, false, true),
            (Role::User, Backup, false, false, false, false),
            (Role::User, Sync, true, false, false, false),
            (Role::User, Share, false, false, false, false),
            (Role::User, Backup, true, false, true, false),
            (Role::OrgAdmin, Sync, false, true, false, true),
            (Role::OrgAdmin, Share, false, false, false, false),
            (Role::OrgAdmin, Backup, false, true, false, true),
            (Role::OrgAdmin, Share, false, true, true, false),
            (Role::SystemAdmin, Share, false, true, true, true),
        ];
        for (role, kind, owns, reaches, maps, expected) in table {
            let owner = if owns { Some(7) } else { Some(99) };
            let got = check_create_root(&caller(role), kind, owner, reaches, maps).is_ok();
            assert_eq!(
                got, expected,
                "{role:?} {kind:?} owns={owns} reaches={reaches} maps={maps}"
            );
        }
    }

    #[test]
    fn policy_actions_by_role() {
        use ServerAction::*;
        let table = [
            (Role::User, ReadPolicies, false),
            (Role::User, UpdatePolicies, false),
            (Role::OrgAdmin, ReadPolicies, true),
            (Role::OrgAdmin, UpdatePolicies, false),
            (Role::SystemAdmin, ReadPolicies, true),
            (Role::SystemAdmin, UpdatePolicies, true),
        ];
        for (role, action, expected) in table {
            let got = check_server_action(&caller(role), action).is_ok();
            assert_eq!(got, expected, "{role:?} {action:?}");
        }
    }
}
