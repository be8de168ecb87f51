//! Domain types and pure rules: roles, permission levels, sign-in modes, the caller.
//!
//! Nothing here does IO. Services use these types to decide; `api` turns them into wire
//! strings with the `as_str` methods, which are the names the contract uses.

pub mod access;
pub mod two_step;

use std::fmt;

/// What a user may administer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Reads and updates only themselves.
    User,
    /// Manages users of their organization and its sub-organizations.
    OrgAdmin,
    /// Manages everyone.
    SystemAdmin,
}

impl Role {
    /// The contract's name of the role.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::OrgAdmin => "org_admin",
            Role::SystemAdmin => "system_admin",
        }
    }

    /// Reads a role name as the contract spells it.
    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "user" => Some(Role::User),
            "org_admin" => Some(Role::OrgAdmin),
            "system_admin" => Some(Role::SystemAdmin),
            _ => None,
        }
    }

    /// Whether the role administers anybody besides the user themselves.
    pub fn is_admin(self) -> bool {
        self != Role::User
    }
}

/// How a user proves the second step of sign-in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TwoStepMode {
    None,
    Email,
    Sms,
    Authenticator,
}

impl TwoStepMode {
    /// The contract's name of the mode.
    pub fn as_str(self) -> &'static str {
        match self {
            TwoStepMode::None => "none",
            TwoStepMode::Email => "email",
            TwoStepMode::Sms => "sms",
            TwoStepMode::Authenticator => "authenticator",
        }
    }

    /// Reads a mode name as the contract spells it.
    pub fn parse(text: &str) -> Option<TwoStepMode> {
        match text {
            "none" => Some(TwoStepMode::None),
            "email" => Some(TwoStepMode::Email),
            "sms" => Some(TwoStepMode::Sms),
            "authenticator" => Some(TwoStepMode::Authenticator),
            _ => None,
        }
    }
}

/// A level of access to a root; each level includes the ones before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Permission {
    Read,
    Write,
    Delete,
    Admin,
}

impl Permission {
    /// The contract's name of the level.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Read => "read",
            Permission::Write => "write",
            Permission::Delete => "delete",
            Permission::Admin => "admin",
        }
    }

    /// Reads a level name as the contract spells it.
    pub fn parse(text: &str) -> Option<Permission> {
        match text {
            "read" => Some(Permission::Read),
            "write" => Some(Permission::Write),
            "delete" => Some(Permission::Delete),
            "admin" => Some(Permission::Admin),
            _ => None,
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kind of a root.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RootType {
    /// A user's sync folder.
    Sync,
    /// A machine's backup.
    Backup,
    /// A Team Share reached by many users.
    Share,
}

impl RootType {
    /// The contract's name of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            RootType::Sync => "sync",
            RootType::Backup => "backup",
            RootType::Share => "share",
        }
    }

    /// Reads a kind name as the contract spells it.
    pub fn parse(text: &str) -> Option<RootType> {
        match text {
            "sync" => Some(RootType::Sync),
            "backup" => Some(RootType::Backup),
            "share" => Some(RootType::Share),
            _ => None,
        }
    }
}

/// The signed-in user a request acts for.
#[derive(Clone)]
pub struct Caller {
    pub user_id: i64,
    pub username: String,
    pub organization_id: i64,
    pub role: Role,
    /// The hash of the token the request presented, so that sign-out can revoke it.
    pub token_hash: String,
    /// The client address, for the activity log.
    pub ip: String,
}

impl fmt::Debug for Caller {
    // The token hash is left out: it identifies a live session.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Caller")
            .field("user_id", &self.user_id)
            .field("username", &self.username)
            .field("organization_id", &self.organization_id)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}
