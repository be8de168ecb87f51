//! Sign-in, session tokens and sign-out.
//!
//! A sign-in reads the user, checks the password with bcrypt outside any transaction (it is
//! slow on purpose), then records the outcome in one write: a session and an `auth.login`
//! entry, or a counted failure and an `auth.failed` entry. Unknown users are checked against
//! a dummy hash so that both failures take the same time and give the same answer.
//!
//! When the account owes a second step (its `two_step_mode`, or the `require_two_step`
//! policy), a right password without `auth_code` sends a fresh code and answers 401
//! `Missing auth_code parameter`; with `auth_code` the code is checked in the same write
//! that opens the session. A wrong code counts toward the lockout like a wrong password, so
//! that knowing the password does not buy unlimited guesses.

use chrono::{DateTime, Duration, Utc};
use rusqlite::Transaction;
use serde_json::json;

use crate::clock::{format_time, parse_time};
use crate::db::activity::{NewActivity, insert_activity};
use crate::db::policies::{Policies, get_policies};
use crate::db::sessions::{SessionRow, find_session, insert_session, revoke_session};
use crate::db::throttle;
use crate::db::users::{UserRow, find_user_by_login, set_last_login};
use crate::domain::Caller;
use crate::domain::two_step::{Channel, required_channel};
use crate::error::{ApiError, ApiResult, messages};
use crate::secrets;
use crate::service::Context;
use crate::service::two_step::{self, CodeCheck, check_code};
use crate::service::users::apply_organization_active;

/// Failures from one client address, across all user names, that lock the address: this many
/// times the per-user limit, so that one person's typos never lock out their whole office
/// behind a shared address, while a sweep across many names is still stopped.
pub const IP_FAILURE_FACTOR: i64 = 4;

/// What a client presents to sign in.
#[derive(Debug)]
pub struct SignIn {
    pub login: String,
    pub password: String,
    pub auth_code: Option<String>,
    pub ip: String,
}

/// A new session.
#[derive(Debug)]
pub struct SessionGrant {
    pub token: String,
    pub expires: DateTime<Utc>,
}

/// Signs a user in and opens a session.
pub async fn sign_in(context: &Context, input: SignIn) -> ApiResult<SessionGrant> {
    if input.login.trim().is_empty() || input.password.is_empty() {
        return Err(ApiError::Invalid(messages::MISSING_CREDENTIALS.into()));
    }
    let now = context.clock.now();
    let now_text = format_time(now);
    let user_key = throttle::user_key(input.login.trim());
    let ip_key = throttle::ip_key(&input.ip);

    let (policies, lock, user) = {
        let (login, user_key, ip_key, now_text) =
            (input.login.trim().to_string(), user_key.clone(), ip_key.clone(), now_text.clone());
        context
            .db
            .read(move |conn| {
                let lock = match throttle::locked_until(conn, &user_key, &now_text)? {
                    Some(until) => Some(until),
                    None => throttle::locked_until(conn, &ip_key, &now_text)?,
                };
                let user =
                    find_user_by_login(conn, &login)?.map(|u| apply_organization_active(conn, u));
                Ok((get_policies(conn)?, lock, user.transpose()?))
            })
            .await?
    };
    if let Some(until) = lock {
        let retry_after_seconds =
            parse_time(&until).map(|until| (until - now).num_seconds()).unwrap_or(60);
        return Err(ApiError::RateLimited {
            message: messages::LOCKED_OUT.into(),
            retry_after_seconds,
        });
    }

    let hash = match &user {
        Some(user) => user.password_hash.clone(),
        None => context.dummy_password_hash.as_ref().clone(),
    };
    let password_ok = context.verify_password(input.password.clone(), hash).await?;
    let user = match user {
        Some(user) if password_ok && user.active => user,
        user => {
            let reason = match &user {
                None => "unknown user",
                Some(user) if !user.active => "inactive user",
                Some(_) => "wrong password",
            };
            record_failure(context, &input, user.as_ref(), &policies, reason).await?;
            return Err(ApiError::Unauthorized(messages::INVALID_CREDENTIALS.into()));
        }
    };

    let pending_code = check_second_step(context, &user, &policies, &input).await?;

    let token = secrets::new_token();
    let token_hash = secrets::hash_token(&token);
    let ip = input.ip.clone();
    let login = input.login.trim().to_string();
    let token_hours = policies.api_token_hours;
    let signed_in = context
        .db
        .write(move |tx| {
            let mut details =
                json!({"step": "password", "two_step_mode": user.two_step_mode.as_str()});
            if let Some((channel, code)) = &pending_code {
                if let CodeCheck::Rejected(reason) = check_code(tx, &user, *channel, code, now)? {
                    let failure = Failure {
                        login,
                        ip,
                        user: Some(&user),
                        step: "code",
                        channel: Some(*channel),
                        reason,
                    };
                    write_failure(tx, &failure, &policies, now)?;
                    return Ok(false);
                }
                details["step"] = json!("code");
                details["channel"] = json!(channel.as_str());
            }
            insert_session(tx, &token_hash, user.id, &now_text, &ip)?;
            set_last_login(tx, user.id, &now_text)?;
            throttle::clear_failures(tx, &user_key)?;
            insert_activity(
                tx,
                &NewActivity {
                    created: now_text.clone(),
                    action: "auth.login".into(),
                    actor_id: Some(user.id),
                    actor_username: Some(user.username.clone()),
                    organization_id: Some(user.organization_id),
                    target_user_id: Some(user.id),
                    ip: Some(ip.clone()),
                    details,
                    ..NewActivity::default()
                },
            )?;
            Ok(true)
        })
        .await?;
    if !signed_in {
        return Err(ApiError::Unauthorized(messages::INVALID_AUTH_CODE.into()));
    }
    Ok(SessionGrant { token, expires: now + Duration::hours(token_hours) })
}

/// Decides the second sign-in step for a user whose password was right. Answers the code to
/// check in the sign-in transaction, `None` when no second step is owed, or the error that
/// ends this attempt: 401 `Missing auth_code parameter` (after sending a fresh code by email
/// or SMS), 403 when the account cannot receive a code, 503 when the code cannot be sent.
/// An empty `auth_code` counts as none, so a form with an empty field asks for a new code.
async fn check_second_step(
    context: &Context,
    user: &UserRow,
    policies: &Policies,
    input: &SignIn,
) -> ApiResult<Option<(Channel, String)>> {
    let Some(channel) = required_channel(user.two_step_mode, policies.require_two_step) else {
        return Ok(None);
    };
    two_step::reach(user, channel)?;
    match input.auth_code.as_deref().map(str::trim).filter(|code| !code.is_empty()) {
        Some(code) => Ok(Some((channel, code.to_string()))),
        None => {
            if channel.is_sent() {
                two_step::send_code(context, user, channel, &input.ip).await?;
            }
            Err(ApiError::TwoStepRequired { mode: channel.as_str() })
        }
    }
}

/// A failed sign-in attempt, as counted and logged.
struct Failure<'a> {
    login: String,
    ip: String,
    user: Option<&'a UserRow>,
    /// `password` or `code`.
    step: &'static str,
    channel: Option<Channel>,
    reason: &'static str,
}

/// Counts a failed sign-in against the user name and the client address, locking either
/// when it reaches its limit, and logs it.
async fn record_failure(
    context: &Context,
    input: &SignIn,
    user: Option<&UserRow>,
    policies: &Policies,
    reason: &'static str,
) -> ApiResult<()> {
    let now = context.clock.now();
    let (login, ip, user, policies) =
        (input.login.trim().to_string(), input.ip.clone(), user.cloned(), policies.clone());
    context
        .db
        .write(move |tx| {
            let failure =
                Failure { login, ip, user: user.as_ref(), step: "password", channel: None, reason };
            write_failure(tx, &failure, &policies, now)
        })
        .await
}

/// Writes a failure inside a transaction: wrong passwords and wrong codes count alike
/// toward the lockout of the user name and of the client address.
fn write_failure(
    tx: &Transaction<'_>,
    failure: &Failure<'_>,
    policies: &Policies,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    let now_text = format_time(now);
    let window_start = format_time(now - Duration::minutes(policies.lockout_minutes));
    let lock_until = format_time(now + Duration::minutes(policies.lockout_minutes));
    let user_key = throttle::user_key(&failure.login);
    let ip_key = throttle::ip_key(&failure.ip);
    throttle::prune(tx, &window_start, &now_text)?;
    let mut locked = false;
    if throttle::record_failure(tx, &user_key, &now_text, &window_start)?
        >= policies.max_failed_logins
    {
        throttle::lock(tx, &user_key, &lock_until)?;
        locked = true;
    }
    if throttle::record_failure(tx, &ip_key, &now_text, &window_start)?
        >= policies.max_failed_logins * IP_FAILURE_FACTOR
    {
        throttle::lock(tx, &ip_key, &lock_until)?;
        locked = true;
    }
    let mut details = json!({"step": failure.step, "reason": failure.reason, "locked": locked});
    if let Some(channel) = failure.channel {
        details["channel"] = json!(channel.as_str());
    }
    let user_id = failure.user.map(|user| user.id);
    insert_activity(
        tx,
        &NewActivity {
            created: now_text,
            action: "auth.failed".into(),
            actor_id: user_id,
            actor_username: Some(failure.login.clone()),
            organization_id: failure.user.map(|user| user.organization_id),
            target_user_id: user_id,
            ip: Some(failure.ip.clone()),
            details,
            ..NewActivity::default()
        },
    )?;
    Ok(())
}

/// Finds the live session a token belongs to.
pub async fn authenticate(context: &Context, token: &str, ip: &str) -> ApiResult<Caller> {
    let token_hash = secrets::hash_token(token);
    let now = context.clock.now();
    let lookup_hash = token_hash.clone();
    let (session, policies) = context
        .db
        .read(move |conn| {
            let session = find_session(conn, &lookup_hash)?;
            let session = session
                .map(|s| {
                    Ok::<_, ApiError>(SessionRow {
                        user: apply_organization_active(conn, s.user)?,
                        ..s
                    })
                })
                .transpose()?;
            Ok((session, get_policies(conn)?))
        })
        .await?;
    let Some(session) = session else {
        return Err(invalid_token());
    };
    let issued = parse_time(&session.created).ok_or_else(invalid_token)?;
    if session.revoked
        || !session.user.active
        || now >= issued + Duration::hours(policies.api_token_hours)
    {
        return Err(invalid_token());
    }
    let user = session.user;
    Ok(Caller {
        user_id: user.id,
        username: user.username,
        organization_id: user.organization_id,
        role: user.role,
        token_hash,
        ip: ip.to_string(),
    })
}

/// Revokes the caller's session.
pub async fn sign_out(context: &Context, caller: &Caller) -> ApiResult<()> {
    let now_text = context.now_text();
    let caller = caller.clone();
    context
        .db
        .write(move |tx| {
            revoke_session(tx, &caller.token_hash)?;
            insert_activity(
                tx,
                &NewActivity {
                    target_user_id: Some(caller.user_id),
                    ..NewActivity::by(&caller, now_text, "auth.logout")
                },
            )?;
            Ok(())
        })
        .await
}

/// The one answer for a token that is unknown, expired, revoked or belongs to a suspended
/// user: clients cannot tell which.
fn invalid_token() -> ApiError {
    ApiError::Unauthorized("The session token is invalid or has expired.".into())
}
