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

/// Something a caller may do to a user, an organization or the activity log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Read a user, or the activity log about them.
    ReadUser,
    /// Change a user's profile: names, email, password, sign-in step, phone.
    UpdateUserProfile,
    /// Change a user's quota, organization or active flag.
    UpdateUserAdministration,
    /// Give a user this role, when creating them or changing their role.
    AssignRole(Role),
    /// Delete a user.
    DeleteUser,
    /// Create a user in an organization, or move one into it.
    PlaceUser,
    /// List the users of an organization (or, on the server, of the caller's whole reach).
    ListUsers,
    /// Read an organization.
    ReadOrganization,
    /// Create, update, delete or list organizations.
    ManageOrganizations,
    /// Read the activity log of an organization and those below it.
    ReadOrganizationActivity,
    /// Read the whole activity log.
    ReadAllActivity,
    /// Write an entry of one's own into the activity log.
    WriteActivity,
}

/// What an [`Action`] is done to, with the facts its rules need. The service reads the facts
/// (`caller_reaches_org` from `service::access::caller_reaches_org`); the rules stay pure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject {
    /// A user, their role, and whether the caller administers the user's organization.
    User { id: i64, role: Role, caller_reaches_org: bool },
    /// An organization, and whether the caller administers it.
    Organization { caller_reaches_org: bool },
    /// The server as a whole (lists without an organization, the whole log).
    Server,
}

/// The one rule for users, organizations and the activity log: may `caller` do `action` to
/// `subject`? It answers in three steps, so that every endpoint fails the same way:
/// 1. An action the caller's role can never do answers 403 (a user deleting users, an org
///    admin creating organizations or granting `system_admin`).
/// 2. An object outside the caller's reach answers 404, as if it did not exist: a user reaches
///    only themselves; an org admin reaches their organization, those below it and their
///    users except system admins; a system admin reaches everything.
/// 3. A few actions are refused on oneself with 403: nobody changes their own role, quota,
///    organization or active flag, or deletes themselves.
pub fn decide(caller: &Caller, action: Action, subject: &Subject) -> ApiResult<()> {
    let role = caller.role;
    let role_may = match action {
        Action::ReadUser | Action::UpdateUserProfile => true,
        Action::UpdateUserAdministration
        | Action::DeleteUser
        | Action::PlaceUser
        | Action::ListUsers
        | Action::ReadOrganization
        | Action::ReadOrganizationActivity
        | Action::WriteActivity => role.is_admin(),
        Action::AssignRole(new_role) => match role {
            Role::SystemAdmin => true,
            Role::OrgAdmin => new_role != Role::SystemAdmin,
            Role::User => false,
        },
        Action::ManageOrganizations | Action::ReadAllActivity => role == Role::SystemAdmin,
    };
    if !role_may {
        return Err(ApiError::forbidden(refusal(action)));
    }
    match *subject {
        Subject::User { id, role: target_role, caller_reaches_org } => {
            let is_self = id == caller.user_id;
            let reaches = is_self
                || role == Role::SystemAdmin
                || (role == Role::OrgAdmin
                    && caller_reaches_org
                    && target_role != Role::SystemAdmin);
            if !reaches {
                return Err(ApiError::not_found("User"));
            }
            let never_on_oneself = matches!(
                action,
                Action::UpdateUserAdministration | Action::AssignRole(_) | Action::DeleteUser
            );
            if is_self && never_on_oneself {
                return Err(ApiError::forbidden(match action {
                    Action::DeleteUser => "You cannot delete your own account.",
                    _ => "You cannot change your own role, quota, organization or active flag.",
                }));
            }
            Ok(())
        }
        Subject::Organization { caller_reaches_org } => {
            if caller_reaches_org || role == Role::SystemAdmin {
                Ok(())
            } else {
                Err(ApiError::not_found("Organization"))
            }
        }
        Subject::Server => Ok(()),
    }
}

/// The sentence for an action the caller's role can never do.
fn refusal(action: Action) -> &'static str {
    match action {
        Action::ReadUser | Action::UpdateUserProfile => "You may not do this to that user.",
        Action::UpdateUserAdministration => {
            "Only administrators may change a user's role, quota, organization or active flag."
        }
        Action::AssignRole(Role::SystemAdmin) => {
            "Only system administrators may create or promote system administrators."
        }
        Action::AssignRole(_) => "Only administrators may set a user's role.",
        Action::DeleteUser => "Only administrators may delete users.",
        Action::PlaceUser => "Only administrators may create users or move them.",
        Action::ListUsers => "Only administrators may list users.",
        Action::ReadOrganization => "Only administrators may read organizations.",
        Action::ManageOrganizations => "Only system administrators may manage organizations.",
        Action::ReadOrganizationActivity => {
            "Only administrators may read an organization's activity."
        }
        Action::ReadAllActivity => "Only system administrators may read the whole activity log.",
        Action::WriteActivity => "Only administrators may write activity entries.",
    }
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

    /// The whole matrix of [`decide`]: every caller kind against every action and subject.
    #[test]
    fn decide_covers_the_whole_matrix() {
        use Action::*;
        use Outcome::{Allowed as A, Forbidden as F, NotFound as N};

        #[derive(Clone, Copy, Debug, PartialEq)]
        enum Outcome {
            Allowed,
            Forbidden,
            NotFound,
        }

        // Callers: a system admin (id 1), an org admin (id 2), a user (id 3).
        let system_admin = Caller { user_id: 1, ..caller(Role::SystemAdmin) };
        let org_admin = Caller { user_id: 2, ..caller(Role::OrgAdmin) };
        let user = Caller { user_id: 3, ..caller(Role::User) };
        // Subjects, described from the org admin's point of view ("reached" = inside their
        // organization or below it).
        let myself = |c: &Caller| Subject::User {
            id: c.user_id,
            role: c.role,
            caller_reaches_org: c.role.is_admin(),
        };
        let reached_user = Subject::User { id: 10, role: Role::User, caller_reaches_org: true };
        let reached_org_admin =
            Subject::User { id: 11, role: Role::OrgAdmin, caller_reaches_org: true };
        let reached_system_admin =
            Subject::User { id: 12, role: Role::SystemAdmin, caller_reaches_org: true };
        let far_user = Subject::User { id: 13, role: Role::User, caller_reaches_org: false };
        let reached_org = Subject::Organization { caller_reaches_org: true };
        let far_org = Subject::Organization { caller_reaches_org: false };
        let server = Subject::Server;

        let user_actions = [
            ReadUser,
            UpdateUserProfile,
            UpdateUserAdministration,
            AssignRole(Role::User),
            AssignRole(Role::OrgAdmin),
            AssignRole(Role::SystemAdmin),
            DeleteUser,
        ];
        // Expected outcomes for the user actions above, in that order.
        #[rustfmt::skip]
        let user_table: Vec<(&Caller, Subject, [Outcome; 7], &str)> = vec![
            (&system_admin, myself(&system_admin), [A, A, F, F, F, F, F], "system admin on self"),
            (&system_admin, reached_user,          [A, A, A, A, A, A, A], "system admin on a user"),
            (&system_admin, reached_system_admin,  [A, A, A, A, A, A, A], "system admin on a system admin"),
            (&system_admin, far_user,              [A, A, A, A, A, A, A], "system admin reaches everyone"),
            (&org_admin, myself(&org_admin),       [A, A, F, F, F, F, F], "org admin on self"),
            (&org_admin, reached_user,             [A, A, A, A, A, F, A], "org admin on a user below"),
            (&org_admin, reached_org_admin,        [A, A, A, A, A, F, A], "org admin on a peer"),
            (&org_admin, reached_system_admin,     [N, N, N, N, N, F, N], "org admin on a system admin"),
            (&org_admin, far_user,                 [N, N, N, N, N, F, N], "org admin on another org"),
            (&user, myself(&user),                 [A, A, F, F, F, F, F], "user on self"),
            (&user, Subject::User { id: 14, role: Role::User, caller_reaches_org: false },
                                                   [N, N, F, F, F, F, F], "user on another user"),
        ];
        for (who, subject, expected, case) in user_table {
            for (action, want) in user_actions.iter().zip(expected) {
                let got = match decide(who, *action, &subject) {
                    Ok(()) => A,
                    Err(ApiError::Forbidden(_)) => F,
                    Err(ApiError::NotFound(_)) => N,
                    Err(other) => panic!("unexpected {other:?}"),
                };
                assert_eq!(got, want, "{case}: {action:?}");
            }
        }

        let other_actions = [
            PlaceUser,
            ListUsers,
            ReadOrganization,
            ManageOrganizations,
            ReadOrganizationActivity,
            ReadAllActivity,
            WriteActivity,
        ];
        #[rustfmt::skip]
        let other_table: Vec<(&Caller, Subject, [Outcome; 7], &str)> = vec![
            (&system_admin, reached_org, [A, A, A, A, A, A, A], "system admin, organization"),
            (&system_admin, far_org,     [A, A, A, A, A, A, A], "system admin, any organization"),
            (&system_admin, server,      [A, A, A, A, A, A, A], "system admin, server"),
            (&org_admin, reached_org,    [A, A, A, F, A, F, A], "org admin, own organization"),
            (&org_admin, far_org,        [N, N, N, F, N, F, N], "org admin, other organization"),
            (&org_admin, server,         [A, A, A, F, A, F, A], "org admin, server"),
            (&user, reached_org,         [F, F, F, F, F, F, F], "user, own organization"),
            (&user, far_org,             [F, F, F, F, F, F, F], "user, other organization"),
            (&user, server,              [F, F, F, F, F, F, F], "user, server"),
        ];
        for (who, subject, expected, case) in other_table {
            for (action, want) in other_actions.iter().zip(expected) {
                let got = match decide(who, *action, &subject) {
                    Ok(()) => A,
                    Err(ApiError::Forbidden(_)) => F,
                    Err(ApiError::NotFound(_)) => N,
                    Err(other) => panic!("unexpected {other:?}"),
                };
                assert_eq!(got, want, "{case}: {action:?}");
            }
        }
    }
}
