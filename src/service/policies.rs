//! Reading and changing the server-wide policies.

use serde_json::{Map, Value, json};

use crate::db::activity::{NewActivity, insert_activity};
use crate::db::policies::{Policies, get_policies, put_policies};
use crate::db::users::find_user;
use crate::domain::access::{ServerAction, check_server_action};
use crate::domain::{Caller, TwoStepMode};
use crate::error::{ApiError, ApiResult};
use crate::service::Context;

/// The accepted range of each numeric policy, by its contract name.
pub const RANGES: &[(&str, i64, i64)] = &[
    ("api_token_hours", 1, 87_600),
    ("password_min_length", 1, 1_024),
    ("max_failed_logins", 1, 1_000),
    ("lockout_minutes", 1, 525_600),
    ("share_link_max_days", 0, 36_500),
];

/// The policies a caller asked to change; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct PolicyChanges {
    pub api_token_hours: Option<i64>,
    pub require_two_step: Option<bool>,
    pub password_min_length: Option<i64>,
    pub max_failed_logins: Option<i64>,
    pub lockout_minutes: Option<i64>,
    pub share_links_enabled: Option<bool>,
    pub share_link_max_days: Option<i64>,
    /// `Some(None)` sets the default quota to unlimited.
    pub default_user_quota: Option<Option<i64>>,
}

/// Reads the policies (administrators only).
pub async fn get(context: &Context, caller: &Caller) -> ApiResult<Policies> {
    check_server_action(caller, ServerAction::ReadPolicies)?;
    context.db.read(|conn| Ok(get_policies(conn)?)).await
}

/// Changes the policies (system administrators only) and logs what changed.
pub async fn update(
    context: &Context,
    caller: &Caller,
    changes: PolicyChanges,
) -> ApiResult<Policies> {
    check_server_action(caller, ServerAction::UpdatePolicies)?;
    validate(&changes)?;
    let now_text = context.now_text();
    let caller = caller.clone();
    context
        .db
        .write(move |tx| {
            let before = get_policies(tx)?;
            let after = apply(&before, &changes);
            if after.require_two_step && !before.require_two_step {
                check_caller_keeps_access(tx, &caller)?;
            }
            put_policies(tx, &after)?;
            insert_activity(
                tx,
                &NewActivity {
                    details: Value::Object(differences(&before, &after)),
                    ..NewActivity::by(&caller, now_text, "policy.update")
                },
            )?;
            Ok(after)
        })
        .await
}

/// Refuses to require two-step sign-in when the administrator asking could then no longer
/// sign in: with no mode of their own, their code would go by email, and they have none.
fn check_caller_keeps_access(tx: &rusqlite::Connection, caller: &Caller) -> ApiResult<()> {
    let user = find_user(tx, caller.user_id)?.ok_or_else(|| ApiError::not_found("User"))?;
    let has_email = user.email.as_deref().is_some_and(|email| !email.trim().is_empty());
    if user.two_step_mode == TwoStepMode::None && !has_email {
        return Err(ApiError::invalid(
            "The parameter 'require_two_step' cannot be turned on yet: your own account has no \
             email address and no two-step mode, so you could not sign in again. Add an email \
             address or choose a two-step mode first.",
        ));
    }
    Ok(())
}

fn validate(changes: &PolicyChanges) -> ApiResult<()> {
    let given = [
        ("api_token_hours", changes.api_token_hours),
        ("password_min_length", changes.password_min_length),
        ("max_failed_logins", changes.max_failed_logins),
        ("lockout_minutes", changes.lockout_minutes),
        ("share_link_max_days", changes.share_link_max_days),
    ];
    for (name, value) in given {
        let Some(value) = value else { continue };
        let Some(&(_, low, high)) = RANGES.iter().find(|(field, ..)| *field == name) else {
            continue;
        };
        if !(low..=high).contains(&value) {
            return Err(ApiError::invalid(format!(
                "The parameter '{name}' must be a whole number from {low} to {high}."
            )));
        }
    }
    if let Some(Some(quota)) = changes.default_user_quota
        && quota < 0
    {
        return Err(ApiError::invalid(
            "The parameter 'default_user_quota' must be a number of bytes, or empty for no limit.",
        ));
    }
    Ok(())
}

fn apply(before: &Policies, changes: &PolicyChanges) -> Policies {
    Policies {
        api_token_hours: changes.api_token_hours.unwrap_or(before.api_token_hours),
        require_two_step: changes.require_two_step.unwrap_or(before.require_two_step),
        password_min_length: changes.password_min_length.unwrap_or(before.password_min_length),
        max_failed_logins: changes.max_failed_logins.unwrap_or(before.max_failed_logins),
        lockout_minutes: changes.lockout_minutes.unwrap_or(before.lockout_minutes),
        share_links_enabled: changes.share_links_enabled.unwrap_or(before.share_links_enabled),
        share_link_max_days: changes.share_link_max_days.unwrap_or(before.share_link_max_days),
        default_user_quota: changes.default_user_quota.unwrap_or(before.default_user_quota),
    }
}

/// `{"field": {"from": old, "to": new}}` for each field that changed.
fn differences(before: &Policies, after: &Policies) -> Map<String, Value> {
    let pairs = [
        ("api_token_hours", json!(before.api_token_hours), json!(after.api_token_hours)),
        ("require_two_step", json!(before.require_two_step), json!(after.require_two_step)),
        (
            "password_min_length",
            json!(before.password_min_length),
            json!(after.password_min_length),
        ),
        ("max_failed_logins", json!(before.max_failed_logins), json!(after.max_failed_logins)),
        ("lockout_minutes", json!(before.lockout_minutes), json!(after.lockout_minutes)),
        (
            "share_links_enabled",
            json!(before.share_links_enabled),
            json!(after.share_links_enabled),
        ),
        (
            "share_link_max_days",
            json!(before.share_link_max_days),
            json!(after.share_link_max_days),
        ),
        ("default_user_quota", json!(before.default_user_quota), json!(after.default_user_quota)),
    ];
    pairs
        .into_iter()
        .filter(|(_, from, to)| from != to)
        .map(|(name, from, to)| (name.to_string(), json!({"from": from, "to": to})))
        .collect()
}
