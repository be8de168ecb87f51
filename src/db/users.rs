//! The `users` table.

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::domain::{Role, TwoStepMode};

/// A user as stored. Never serialized as is: it carries the password hash and TOTP secret.
#[derive(Clone, Debug)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub email: Option<String>,
    pub password_hash: String,
    pub first_name: String,
    pub last_name: String,
    pub organization_id: i64,
    pub role: Role,
    pub active: bool,
    pub two_step_mode: TwoStepMode,
    pub mobile_phone: Option<String>,
    pub totp_secret: Option<String>,
    pub totp_last_step: Option<i64>,
    pub space_quota: Option<i64>,
    pub created: String,
    pub last_login: Option<String>,
}

impl UserRow {
    /// "First Last", or the user name when both are empty.
    pub fn display_name(&self) -> String {
        let full = format!("{} {}", self.first_name, self.last_name);
        let full = full.trim();
        if full.is_empty() { self.username.clone() } else { full.to_string() }
    }
}

/// The columns [`from_row`] reads, in order.
pub const COLUMNS: &str = "id, username, email, password_hash, first_name, last_name, \
     organization_id, role, active, two_step_mode, mobile_phone, totp_secret, totp_last_step, \
     space_quota, created, last_login";

/// Reads a row selected with [`COLUMNS`].
pub fn from_row(row: &Row<'_>) -> rusqlite::Result<UserRow> {
    let role: String = row.get(7)?;
    let mode: String = row.get(9)?;
    Ok(UserRow {
        id: row.get(0)?,
        username: row.get(1)?,
        email: row.get(2)?,
        password_hash: row.get(3)?,
        first_name: row.get(4)?,
        last_name: row.get(5)?,
        organization_id: row.get(6)?,
        // The CHECK constraints keep these columns to known names.
        role: Role::parse(&role).unwrap_or(Role::User),
        active: row.get(8)?,
        two_step_mode: TwoStepMode::parse(&mode).unwrap_or(TwoStepMode::None),
        mobile_phone: row.get(10)?,
        totp_secret: row.get(11)?,
        totp_last_step: row.get(12)?,
        space_quota: row.get(13)?,
        created: row.get(14)?,
        last_login: row.get(15)?,
    })
}

/// The fields of a new user.
#[derive(Debug)]
pub struct NewUser<'a> {
    pub username: &'a str,
    pub email: Option<&'a str>,
    pub password_hash: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub organization_id: i64,
    pub role: Role,
    pub two_step_mode: TwoStepMode,
    pub mobile_phone: Option<&'a str>,
    pub totp_secret: Option<&'a str>,
    pub space_quota: Option<i64>,
    pub created: &'a str,
}

/// Inserts a user and returns its id.
pub fn insert_user(conn: &Connection, user: &NewUser<'_>) -> rusqlite::Result<i64> {
    conn.execute(
        "INSERT INTO users (username, email, password_hash, first_name, last_name,
             organization_id, role, two_step_mode, mobile_phone, totp_secret, space_quota, created)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        params![
            user.username,
            user.email,
            user.password_hash,
            user.first_name,
            user.last_name,
            user.organization_id,
            user.role.as_str(),
            user.two_step_mode.as_str(),
            user.mobile_phone,
            user.totp_secret,
            user.space_quota,
            user.created,
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Finds a user by id.
pub fn find_user(conn: &Connection, id: i64) -> rusqlite::Result<Option<UserRow>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM users WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()
}

/// Finds a user by user name or, failing that, by email address (both without regard to case).
pub fn find_user_by_login(conn: &Connection, login: &str) -> rusqlite::Result<Option<UserRow>> {
    let by_name = conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM users WHERE username = ?1"))?
        .query_row([login], from_row)
        .optional()?;
    if by_name.is_some() {
        return Ok(by_name);
    }
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM users WHERE email = ?1"))?
        .query_row([login], from_row)
        .optional()
}

/// Records a successful sign-in.
pub fn set_last_login(conn: &Connection, id: i64, at: &str) -> rusqlite::Result<()> {
    conn.execute("UPDATE users SET last_login = ?2 WHERE id = ?1", params![id, at])?;
    Ok(())
}

/// Counts all users; zero means the server has never started.
pub fn count_users(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT COUNT(*) FROM users", [], |row| row.get(0))
}

/// Writes every changeable field of a user back.
pub fn update_user(conn: &Connection, user: &UserRow) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE users SET username = ?2, email = ?3, password_hash = ?4, first_name = ?5,
             last_name = ?6, organization_id = ?7, role = ?8, active = ?9, two_step_mode = ?10,
             mobile_phone = ?11, totp_secret = ?12, totp_last_step = ?13, space_quota = ?14
         WHERE id = ?1",
        params![
            user.id,
            user.username,
            user.email,
            user.password_hash,
            user.first_name,
            user.last_name,
            user.organization_id,
            user.role.as_str(),
            user.active,
            user.two_step_mode.as_str(),
            user.mobile_phone,
            user.totp_secret,
            user.totp_last_step,
            user.space_quota,
        ],
    )?;
    Ok(())
}

/// Deletes a user; their sessions, codes and memberships go with them.
pub fn delete_user(conn: &Connection, id: i64) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM users WHERE id = ?1", [id])?;
    Ok(())
}

/// Which users a listing shows.
#[derive(Debug, Default)]
pub struct UserFilter {
    /// Only users of these organizations; `None` for every organization.
    pub organization_ids: Option<Vec<i64>>,
    /// Leaves out users of this role (org admins do not see system admins).
    pub exclude_role: Option<Role>,
    /// Part of the user name, email, first or last name, without regard to case.
    pub query: Option<String>,
}

impl UserFilter {
    fn where_clause(&self) -> (String, Vec<String>) {
        let mut conditions = vec!["1 = 1".to_string()];
        let mut values = Vec::new();
        if let Some(ids) = &self.organization_ids {
            let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
            conditions.push(format!("users.organization_id IN ({list})"));
        }
        if let Some(role) = self.exclude_role {
            values.push(role.as_str().to_string());
            conditions.push(format!("users.role != ?{}", values.len()));
        }
        if let Some(query) = &self.query {
            values.push(format!("%{}%", escape_like(query)));
            let n = values.len();
            conditions.push(format!(
                "(users.username LIKE ?{n} ESCAPE '\\' OR users.email LIKE ?{n} ESCAPE '\\'
                  OR users.first_name LIKE ?{n} ESCAPE '\\' OR users.last_name LIKE ?{n} ESCAPE '\\')"
            ));
        }
        (conditions.join(" AND "), values)
    }
}

/// Escapes `%`, `_` and `\` for a `LIKE ... ESCAPE '\'` pattern.
pub fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        if matches!(character, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}

/// One page of users matching `filter`, newest first, each with the bytes stored in the
/// roots they own.
pub fn list_users(
    conn: &Connection,
    filter: &UserFilter,
    offset: i64,
    limit: i64,
) -> rusqlite::Result<Vec<(UserRow, i64)>> {
    let (conditions, values) = filter.where_clause();
    let columns = COLUMNS.split(", ").map(|c| format!("users.{}", c.trim())).collect::<Vec<_>>();
    let sql = format!(
        "SELECT {}, (SELECT COALESCE(SUM(space_used), 0) FROM roots WHERE owner_id = users.id)
         FROM users WHERE {conditions} ORDER BY users.id DESC LIMIT {limit} OFFSET {offset}",
        columns.join(", ")
    );
    let mut statement = conn.prepare(&sql)?;
    let rows = statement.query_map(rusqlite::params_from_iter(values.iter()), |row| {
        Ok((from_row(row)?, row.get(16)?))
    })?;
    rows.collect()
}

/// How many users match `filter`.
pub fn count_users_matching(conn: &Connection, filter: &UserFilter) -> rusqlite::Result<i64> {
    let (conditions, values) = filter.where_clause();
    conn.query_row(
        &format!("SELECT COUNT(*) FROM users WHERE {conditions}"),
        rusqlite::params_from_iter(values.iter()),
        |row| row.get(0),
    )
}

/// The ids of the users of the given organizations.
pub fn user_ids_in_organizations(
    conn: &Connection,
    organization_ids: &[i64],
) -> rusqlite::Result<Vec<i64>> {
    let list = organization_ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
    let mut statement =
        conn.prepare(&format!("SELECT id FROM users WHERE organization_id IN ({list})"))?;
    let rows = statement.query_map([], |row| row.get(0))?;
    rows.collect()
}
