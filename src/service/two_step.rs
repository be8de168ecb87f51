//! The second sign-in step: sending one-time codes by email or SMS, and checking the codes
//! people present (sent codes and authenticator codes).
//!
//! A code is stored (as a hash) before it is sent, and removed again when it cannot be
//! delivered, so that no code nobody received stays usable; the sign-in then answers 503
//! and the failure is logged as a warning. Checking a code runs inside the sign-in's write
//! transaction, so that two sign-ins racing with one code cannot both succeed.

use chrono::{DateTime, Duration, Utc};
use rusqlite::Transaction;
use serde_json::json;

use crate::clock::format_time;
use crate::db::activity::{NewActivity, insert_activity};
use crate::db::two_step::{
    count_attempt, delete_code, find_live_code, prune_codes, replace_codes, set_totp_last_step,
    totp_last_step, use_code,
};
use crate::db::users::UserRow;
use crate::domain::two_step::{
    CODE_MAX_ATTEMPTS, CODE_VALID_MINUTES, Channel, new_one_time_code, normalize_code, totp_accepts,
};
use crate::error::{ApiError, ApiResult};
use crate::notify::DeliveryError;
use crate::secrets;
use crate::service::Context;

/// The outcome of checking a presented code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeCheck {
    /// The code was right; it is now used up.
    Accepted,
    /// The code was wrong, expired, used, or there was none; the reason is for the log.
    Rejected(&'static str),
}

/// Where a channel reaches the user: the email address or phone number for sent codes,
/// `None` for the authenticator. A 403 naming what the account lacks when it cannot work.
pub fn reach(user: &UserRow, channel: Channel) -> ApiResult<Option<String>> {
    let present = |value: &Option<String>| {
        value.as_deref().map(str::trim).filter(|value| !value.is_empty()).map(str::to_string)
    };
    match channel {
        Channel::Email => present(&user.email).map(Some).ok_or_else(|| {
            ApiError::forbidden(
                "Two-step sign-in is required for this account, but it has no email address to \
                 send the code to. Ask an administrator to add one.",
            )
        }),
        Channel::Sms => present(&user.mobile_phone).map(Some).ok_or_else(|| {
            ApiError::forbidden(
                "Two-step sign-in by SMS is on for this account, but it has no mobile phone \
                 number to send the code to. Ask an administrator to add one.",
            )
        }),
        Channel::Authenticator => match present(&user.totp_secret) {
            Some(_) => Ok(None),
            None => Err(ApiError::forbidden(
                "Two-step sign-in by authenticator app is on for this account, but no app is \
                 set up. Ask an administrator to set it up again.",
            )),
        },
    }
}

/// Makes a new code for the user, replacing any earlier one, and sends it by `channel`
/// (email or SMS). Answers 503 when it cannot be delivered, 403 when the account's address
/// or number cannot receive it; in both cases the code is gone again.
pub async fn send_code(
    context: &Context,
    user: &UserRow,
    channel: Channel,
    ip: &str,
) -> ApiResult<()> {
    let Some(to) = reach(user, channel)? else {
        return Ok(());
    };
    let code = new_one_time_code();
    let now = context.clock.now();
    let code_id = {
        let (now_text, expires) =
            (format_time(now), format_time(now + Duration::minutes(CODE_VALID_MINUTES)));
        let code_hash = secrets::hash_token(&code);
        let entry = entry_for(
            user,
            ip,
            &now_text,
            "auth.code_issued",
            json!({
                "step": "password",
                "channel": channel.as_str(),
                "expires": expires,
            }),
        );
        let user_id = user.id;
        context
            .db
            .write(move |tx| {
                prune_codes(tx, &now_text)?;
                let id =
                    replace_codes(tx, user_id, &code_hash, channel.as_str(), &now_text, &expires)?;
                insert_activity(tx, &entry)?;
                Ok(id)
            })
            .await?
    };

    let delivered = deliver(context, user, channel, &to, &code, now).await;
    let Err(error) = delivered else {
        tracing::info!(user_id = user.id, channel = channel.as_str(), "sign-in code sent");
        return Ok(());
    };
    tracing::warn!(
        user_id = user.id,
        channel = channel.as_str(),
        error = %error,
        "sign-in code not delivered; the sign-in answers 503"
    );
    let entry = entry_for(
        user,
        ip,
        &format_time(context.clock.now()),
        "auth.code_failed",
        json!({
            "step": "password",
            "channel": channel.as_str(),
            "reason": error.to_string(),
        }),
    );
    context
        .db
        .write(move |tx| {
            delete_code(tx, code_id)?;
            insert_activity(tx, &entry)?;
            Ok(())
        })
        .await?;
    let by = if channel == Channel::Sms { "text message" } else { "email" };
    Err(match error {
        DeliveryError::Recipient(reason) => ApiError::forbidden(format!(
            "The sign-in code cannot be sent by {by}: {reason}. Ask an administrator to correct it."
        )),
        DeliveryError::Failed(_) => ApiError::Unavailable(format!(
            "The sign-in code could not be sent by {by} right now. Try again in a few minutes; \
             if it keeps failing, ask an administrator to check the server's {by} settings."
        )),
    })
}

/// Checks a presented code for the user's channel inside the sign-in transaction: a right
/// code is used up (or its authenticator time step recorded), a wrong one counts against
/// the live sent code.
pub fn check_code(
    tx: &Transaction<'_>,
    user: &UserRow,
    channel: Channel,
    code: &str,
    now: DateTime<Utc>,
) -> ApiResult<CodeCheck> {
    if channel == Channel::Authenticator {
        let Some(secret) = user.totp_secret.as_deref() else {
            return Ok(CodeCheck::Rejected("no authenticator set up"));
        };
        let last_used = totp_last_step(tx, user.id)?;
        return Ok(match totp_accepts(secret, code, now.timestamp(), last_used) {
            Some(step) => {
                set_totp_last_step(tx, user.id, step)?;
                CodeCheck::Accepted
            }
            None if totp_accepts(secret, code, now.timestamp(), None).is_some() => {
                CodeCheck::Rejected("code already used")
            }
            None => CodeCheck::Rejected("wrong code"),
        });
    }
    let Some(live) = find_live_code(tx, user.id, &format_time(now), CODE_MAX_ATTEMPTS)? else {
        return Ok(CodeCheck::Rejected("no live code"));
    };
    let right =
        normalize_code(code).is_some_and(|code| secrets::hash_token(&code) == live.code_hash);
    if right {
        use_code(tx, live.id)?;
        Ok(CodeCheck::Accepted)
    } else {
        count_attempt(tx, live.id)?;
        Ok(CodeCheck::Rejected("wrong code"))
    }
}

async fn deliver(
    context: &Context,
    user: &UserRow,
    channel: Channel,
    to: &str,
    code: &str,
    now: DateTime<Utc>,
) -> Result<(), DeliveryError> {
    match channel {
        Channel::Email => {
            let (subject, body) = code_mail(&user.display_name(), code);
            context.notifier.send_mail(to, &subject, &body, now).await
        }
        Channel::Sms => context.notifier.send_sms(to, &code_text(code), now).await,
        Channel::Authenticator => Ok(()),
    }
}

/// The mail carrying a code: subject and plain-text body. Plain text needs no escaping; the
/// name is the account's own.
fn code_mail(display_name: &str, code: &str) -> (String, String) {
    let subject = "Your CloudSync sign-in code".to_string();
    let body = format!(
        "Hello {display_name},\n\
         \n\
         Your CloudSync sign-in code is: {code}\n\
         \n\
         It is valid for {CODE_VALID_MINUTES} minutes and works once.\n\
         If you did not just try to sign in, someone knows your password:\n\
         change it and tell your administrator.\n"
    );
    (subject, body)
}

/// The text message carrying a code.
fn code_text(code: &str) -> String {
    format!("Your CloudSync sign-in code is: {code} (valid {CODE_VALID_MINUTES} minutes)")
}

fn entry_for(
    user: &UserRow,
    ip: &str,
    created: &str,
    action: &str,
    details: serde_json::Value,
) -> NewActivity {
    NewActivity {
        created: created.to_string(),
        action: action.to_string(),
        actor_id: Some(user.id),
        actor_username: Some(user.username.clone()),
        organization_id: Some(user.organization_id),
        target_user_id: Some(user.id),
        ip: Some(ip.to_string()),
        details,
        ..NewActivity::default()
    }
}
