//! First start: the top organization and the system administrator.

use serde_json::json;

use crate::db::activity::{NewActivity, insert_activity};
use crate::db::orgs::insert_organization;
use crate::db::policies::{Policies, put_policies};
use crate::db::roots::{NewRoot, insert_root};
use crate::db::users::{NewUser, count_users, insert_user};
use crate::domain::{Role, RootType, TwoStepMode};
use crate::error::ApiResult;
use crate::secrets;
use crate::service::Context;
use crate::storage;

/// The name of the administrator created at first start.
pub const ADMIN_USERNAME: &str = "admin";
/// The name given to the top organization at first start; admins may rename it.
pub const TOP_ORGANIZATION_NAME: &str = "Office";
/// The name of the sync root every user gets.
pub const SYNC_ROOT_NAME: &str = "Sync";

/// What a first start did.
#[derive(Debug)]
pub struct FirstStart {
    /// The administrator's password when the server chose it; to be shown once.
    pub generated_admin_password: Option<String>,
}

/// Sets up an empty database: the top organization, the default policies, and the `admin`
/// system administrator with a sync root. Does nothing (and answers `None`) when users exist.
pub async fn first_start(
    context: &Context,
    admin_password: Option<String>,
) -> ApiResult<Option<FirstStart>> {
    let has_users = context.db.read(|conn| Ok(count_users(conn)? > 0)).await?;
    if has_users {
        return Ok(None);
    }
    let generated = admin_password.is_none();
    let password = admin_password.unwrap_or_else(secrets::generate_password);
    let hash = context.hash_password(password.clone()).await?;
    let now = context.now_text();
    let data_dir = context.data_dir.clone();
    context
        .db
        .write(move |tx| {
            // Two servers starting on one folder at once must not both set it up.
            if count_users(tx)? > 0 {
                return Ok(());
            }
            put_policies(tx, &Policies::default())?;
            let organization_id = insert_organization(tx, TOP_ORGANIZATION_NAME, None, &now)?;
            let admin_id = insert_user(
                tx,
                &NewUser {
                    username: ADMIN_USERNAME,
                    email: None,
                    password_hash: &hash,
                    first_name: "",
                    last_name: "",
                    organization_id,
                    role: Role::SystemAdmin,
                    two_step_mode: TwoStepMode::None,
                    mobile_phone: None,
                    totp_secret: None,
                    space_quota: None,
                    created: &now,
                },
            )?;
            let root_id = insert_root(
                tx,
                &NewRoot {
                    name: SYNC_ROOT_NAME,
                    root_type: RootType::Sync,
                    owner_id: Some(admin_id),
                    organization_id,
                    machine_id: None,
                    path: None,
                    space_quota: None,
                    created: &now,
                },
            )?;
            storage::create_root_dir(&data_dir, root_id)?;
            insert_activity(
                tx,
                &NewActivity {
                    created: now.clone(),
                    action: "user.create".into(),
                    organization_id: Some(organization_id),
                    target_user_id: Some(admin_id),
                    target_organization_id: Some(organization_id),
                    root_id: Some(root_id),
                    details: json!({"reason": "first start", "role": Role::SystemAdmin.as_str()}),
                    ..NewActivity::default()
                },
            )?;
            Ok(())
        })
        .await?;
    Ok(Some(FirstStart { generated_admin_password: generated.then_some(password) }))
}
