//! The signed-in user's own account.

use crate::db::roots::{RootRow, list_roots_for_user, space_used_by_owner};
use crate::db::users::{UserRow, find_user};
use crate::domain::{Caller, Permission};
use crate::error::{ApiError, ApiResult};
use crate::service::Context;

/// The caller's account with usage and reachable roots.
#[derive(Debug)]
pub struct AccountInfo {
    pub user: UserRow,
    /// Bytes stored in the roots the user owns.
    pub space_used: i64,
    /// Every root the user reaches, with the user's level on it.
    pub roots: Vec<(RootRow, Permission)>,
}

/// Reads the caller's account.
pub async fn account_info(context: &Context, caller: &Caller) -> ApiResult<AccountInfo> {
    let user_id = caller.user_id;
    context
        .db
        .read(move |conn| {
            let user = find_user(conn, user_id)?.ok_or_else(|| ApiError::not_found("User"))?;
            Ok(AccountInfo {
                space_used: space_used_by_owner(conn, user_id)?,
                roots: list_roots_for_user(conn, user_id)?,
                user,
            })
        })
        .await
}
