//! Reading the facts that the rules of `domain::access` decide on.
//!
//! These run inside a service's transaction (or read connection), so the decision and the
//! change it allows see the same data.

use rusqlite::Connection;

use crate::db::orgs::is_within;
use crate::db::roots::{RootRow, find_root, member_permission};
use crate::domain::access::{require_level, root_level};
use crate::domain::{Caller, Permission, Role};
use crate::error::{ApiError, ApiResult};

/// Whether the caller administers the given organization: system admins administer all of
/// them, org admins their own and those below it, users none.
pub fn caller_reaches_org(conn: &Connection, caller: &Caller, org_id: i64) -> ApiResult<bool> {
    Ok(match caller.role {
        Role::SystemAdmin => true,
        Role::OrgAdmin => is_within(conn, org_id, caller.organization_id)?,
        Role::User => false,
    })
}

/// The caller's level on a root, or `None` when the root does not exist or is invisible.
pub fn root_level_of(
    conn: &Connection,
    caller: &Caller,
    root: &RootRow,
) -> ApiResult<Option<Permission>> {
    let member = member_permission(conn, root.id, caller.user_id)?;
    let reaches = caller_reaches_org(conn, caller, root.organization_id)?;
    Ok(root_level(caller, root, member, reaches))
}

/// Loads a root the caller reaches with at least `needed`: 404 when it does not exist or is
/// invisible to the caller, 403 when their level is too low.
pub fn root_for(
    conn: &Connection,
    caller: &Caller,
    root_id: i64,
    needed: Permission,
) -> ApiResult<(RootRow, Permission)> {
    let root = find_root(conn, root_id)?.ok_or_else(|| ApiError::not_found("Root"))?;
    let level = require_level(root_level_of(conn, caller, &root)?, needed)?;
    Ok((root, level))
}
