//! The `policies` table: one row of server-wide settings.

use rusqlite::{Connection, params};

/// The server-wide policies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policies {
    /// Hours a session token lives, counted from its sign-in.
    pub api_token_hours: i64,
    /// Whether every user must pass a second sign-in step.
    pub require_two_step: bool,
    pub password_min_length: i64,
    /// Failed sign-ins within `lockout_minutes` that lock a user name.
    pub max_failed_logins: i64,
    pub lockout_minutes: i64,
    pub share_links_enabled: bool,
    /// The longest a share link may live, in days; 0 means no limit.
    pub share_link_max_days: i64,
    /// Quota given to new users; `None` means unlimited.
    pub default_user_quota: Option<i64>,
}

impl Default for Policies {
    fn default() -> Policies {
        Policies {
            api_token_hours: 720,
            require_two_step: false,
            password_min_length: 8,
            max_failed_logins: 5,
            lockout_minutes: 15,
            share_links_enabled: true,
            share_link_max_days: 0,
            default_user_quota: None,
        }
    }
}

/// Reads the policies, falling back to the defaults before the row exists.
pub fn get_policies(conn: &Connection) -> rusqlite::Result<Policies> {
    let mut statement = conn.prepare_cached(
        "SELECT api_token_hours, require_two_step, password_min_length, max_failed_logins,
             lockout_minutes, share_links_enabled, share_link_max_days, default_user_quota
         FROM policies WHERE id = 1",
    )?;
    let mut rows = statement.query([])?;
    let Some(row) = rows.next()? else {
        return Ok(Policies::default());
    };
    Ok(Policies {
        api_token_hours: row.get(0)?,
        require_two_step: row.get(1)?,
        password_min_length: row.get(2)?,
        max_failed_logins: row.get(3)?,
        lockout_minutes: row.get(4)?,
        share_links_enabled: row.get(5)?,
        share_link_max_days: row.get(6)?,
        default_user_quota: row.get(7)?,
    })
}

/// Stores the policies.
pub fn put_policies(conn: &Connection, policies: &Policies) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO policies (id, api_token_hours, require_two_step, password_min_length,
             max_failed_logins, lockout_minutes, share_links_enabled, share_link_max_days,
             default_user_quota)
         VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (id) DO UPDATE SET
             api_token_hours = excluded.api_token_hours,
             require_two_step = excluded.require_two_step,
             password_min_length = excluded.password_min_length,
             max_failed_logins = excluded.max_failed_logins,
             lockout_minutes = excluded.lockout_minutes,
             share_links_enabled = excluded.share_links_enabled,
             share_link_max_days = excluded.share_link_max_days,
             default_user_quota = excluded.default_user_quota",
        params![
            policies.api_token_hours,
            policies.require_two_step,
            policies.password_min_length,
            policies.max_failed_logins,
            policies.lockout_minutes,
            policies.share_links_enabled,
            policies.share_link_max_days,
            policies.default_user_quota,
        ],
    )?;
    Ok(())
}
