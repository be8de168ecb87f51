//! Sign-in, session tokens and sign-out.
//!
//! A sign-in reads the user, checks the password with bcrypt outside any transaction (it is
//! slow on purpose), then records the outcome in one write: a session and an `auth.login`
//! entry, or a counted failure and an `auth.failed` entry. Unknown users are checked against
//! a dummy hash so that both failures take the same time and give the same answer.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use crate::clock::{format_time, parse_time};
use crate::db::Db;
use crate::db::activity::{NewActivity, insert_activity};
use crate::db::policies::{Policies, get_policies};
use crate::db::sessions::{SessionRow, find_session, insert_session, revoke_session};
use crate::db::throttle;
use crate::db::users::{UserRow, find_user_by_login, set_last_login};
use crate::domain::{Caller, TwoStepMode};
use crate::error::{ApiError, ApiResult, messages};
use crate::secrets;
use crate::service::Context;
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
    let password = input.password.clone();
    let password_ok = Db::blocking(move || Ok(secrets::verify_password(&password, &hash))).await?;
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

    check_second_step(&user, &policies, input.auth_code.as_deref())?;

    let token = secrets::new_token();
    let token_hash = secrets::hash_token(&token);
    let ip = input.ip.clone();
    let user_id = user.id;
    context
        .db
        .write(move |tx| {
            insert_session(tx, &token_hash, user_id, &now_text, &ip)?;
            set_last_login(tx, user_id, &now_text)?;
            throttle::clear_failures(tx, &user_key)?;
            insert_activity(tx, &NewActivity {
                created: now_text.clone(),
                action: "auth.login".into(),
                actor_id: Some(user.id),
                actor_username: Some(user.username.clone()),
                organization_id: Some(user.organization_id),
                target_user_id: Some(user.id),
                ip: Some(ip.clone()),
                details: json!({"step": "password", "two_step_mode": user.two_step_mode.as_str()}),
                ..NewActivity::default()
            })?;
            Ok(())
        })
        .await?;
    Ok(SessionGrant { token, expires: now + Duration::hours(policies.api_token_hours) })
}

/// Decides the second sign-in step for a user whose password was right.
fn check_second_step(
    user: &UserRow,
    policies: &Policies,
    _auth_code: Option<&str>,
) -> ApiResult<()> {
    if user.two_step_mode == TwoStepMode::None && !policies.require_two_step {
        return Ok(());
    }
    // FIXME: two-step codes (email, SMS, authenticator) are not verified yet, so a user who
    // needs a second step cannot sign in; right is sending or checking the code per §2.
    Err(ApiError::Unavailable(
        "Two-step sign-in is required for this account but not available on this server.".into(),
    ))
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
    let now_text = format_time(now);
    let window_start = format_time(now - Duration::minutes(policies.lockout_minutes));
    let lock_until = format_time(now + Duration::minutes(policies.lockout_minutes));
    let user_key = throttle::user_key(input.login.trim());
    let ip_key = throttle::ip_key(&input.ip);
    let user_limit = policies.max_failed_logins;
    let ip_limit = policies.max_failed_logins * IP_FAILURE_FACTOR;
    let login = input.login.trim().to_string();
    let ip = input.ip.clone();
    let (user_id, organization_id) = (user.map(|u| u.id), user.map(|u| u.organization_id));
    context
        .db
        .write(move |tx| {
            throttle::prune(tx, &window_start, &now_text)?;
            let mut locked = false;
            if throttle::record_failure(tx, &user_key, &now_text, &window_start)? >= user_limit {
                throttle::lock(tx, &user_key, &lock_until)?;
                locked = true;
            }
            if throttle::record_failure(tx, &ip_key, &now_text, &window_start)? >= ip_limit {
                throttle::lock(tx, &ip_key, &lock_until)?;
                locked = true;
            }
            insert_activity(
                tx,
                &NewActivity {
                    created: now_text.clone(),
                    action: "auth.failed".into(),
                    actor_id: user_id,
                    actor_username: Some(login),
                    organization_id,
                    target_user_id: user_id,
                    ip: Some(ip),
                    details: json!({"step": "password", "reason": reason, "locked": locked}),
                    ..NewActivity::default()
                },
            )?;
            Ok(())
        })
        .await
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
                    created: now_text,
                    action: "auth.logout".into(),
                    actor_id: Some(caller.user_id),
                    actor_username: Some(caller.username.clone()),
                    organization_id: Some(caller.organization_id),
                    target_user_id: Some(caller.user_id),
                    ip: Some(caller.ip.clone()),
                    ..NewActivity::default()
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
