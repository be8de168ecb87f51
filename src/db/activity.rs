//! The `activity` table: the log of changes and sign-ins.

use rusqlite::types::Value;
use rusqlite::{Connection, params, params_from_iter};

use crate::domain::Caller;

/// One entry to append. Fields left `None` are stored as NULL.
#[derive(Debug, Default)]
pub struct NewActivity {
    pub created: String,
    pub action: String,
    pub actor_id: Option<i64>,
    pub actor_username: Option<String>,
    pub organization_id: Option<i64>,
    pub root_id: Option<i64>,
    pub path: Option<String>,
    pub target_user_id: Option<i64>,
    pub target_organization_id: Option<i64>,
    pub machine_id: Option<i64>,
    pub ip: Option<String>,
    pub details: serde_json::Value,
}

impl NewActivity {
    /// An entry for something the caller did, with the actor fields filled in.
    pub fn by(caller: &Caller, created: String, action: impl Into<String>) -> NewActivity {
        NewActivity {
            created,
            action: action.into(),
            actor_id: Some(caller.user_id),
            actor_username: Some(caller.username.clone()),
            organization_id: Some(caller.organization_id),
            ip: Some(caller.ip.clone()),
            ..NewActivity::default()
        }
    }
}

/// Appends an entry and returns its id.
pub fn insert_activity(conn: &Connection, entry: &NewActivity) -> rusqlite::Result<i64> {
    let details =
        if entry.details.is_null() { "{}".to_string() } else { entry.details.to_string() };
    conn.prepare_cached(
        "INSERT INTO activity (created, action, actor_id, actor_username, organization_id,
             root_id, path, target_user_id, target_organization_id, machine_id, ip, details)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?
    .execute(params![
        entry.created,
        entry.action,
        entry.actor_id,
        entry.actor_username,
        entry.organization_id,
        entry.root_id,
        entry.path,
        entry.target_user_id,
        entry.target_organization_id,
        entry.machine_id,
        entry.ip,
        details,
    ])?;
    Ok(conn.last_insert_rowid())
}

/// An entry as stored.
#[derive(Clone, Debug)]
pub struct ActivityRow {
    pub id: i64,
    pub created: String,
    pub action: String,
    pub actor_id: Option<i64>,
    pub actor_username: Option<String>,
    pub organization_id: Option<i64>,
    pub root_id: Option<i64>,
    pub path: Option<String>,
    pub target_user_id: Option<i64>,
    pub target_organization_id: Option<i64>,
    pub machine_id: Option<i64>,
    pub ip: Option<String>,
    /// A JSON object, as text.
    pub details: String,
}

const COLUMNS: &str = "id, created, action, actor_id, actor_username, organization_id, root_id, \
     path, target_user_id, target_organization_id, machine_id, ip, details";

fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<ActivityRow> {
    Ok(ActivityRow {
        id: row.get(0)?,
        created: row.get(1)?,
        action: row.get(2)?,
        actor_id: row.get(3)?,
        actor_username: row.get(4)?,
        organization_id: row.get(5)?,
        root_id: row.get(6)?,
        path: row.get(7)?,
        target_user_id: row.get(8)?,
        target_organization_id: row.get(9)?,
        machine_id: row.get(10)?,
        ip: row.get(11)?,
        details: row.get(12)?,
    })
}

/// One element of an `action` filter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActionPattern {
    /// This action exactly.
    Exact(String),
    /// Every action starting with this text (`file.*` gives `file.`).
    Prefix(String),
}

/// Which entries a read shows: a scope (root, path, user, organizations) and the filters.
/// Every field left `None` (or empty) does not restrict.
#[derive(Clone, Debug, Default)]
pub struct ActivityFilter {
    pub root_id: Option<i64>,
    /// Entries for this path and everything below it, inside `root_id`. A path of `/` is the
    /// whole root. Paths are compared byte for byte, as stored.
    pub path: Option<String>,
    /// Entries the user did or that were done to them.
    pub about_user: Option<i64>,
    /// Entries belonging to these organizations.
    pub organization_ids: Option<Vec<i64>>,
    /// Entries created at or after this time (stored time format).
    pub since: Option<String>,
    /// Entries created at or before this time (stored time format).
    pub until: Option<String>,
    pub actions: Vec<ActionPattern>,
    /// Entries this user did or that were done to them (a filter inside the scope).
    pub user_id: Option<i64>,
}

impl ActivityFilter {
    /// The WHERE clause and its values.
    fn where_clause(&self) -> (String, Vec<Value>) {
        let mut conditions: Vec<String> = Vec::new();
        let mut values: Vec<Value> = Vec::new();
        let bind = |value: Value, values: &mut Vec<Value>| {
            values.push(value);
            format!("?{}", values.len())
        };
        if let Some(root_id) = self.root_id {
            let root = bind(Value::Integer(root_id), &mut values);
            conditions.push(format!("root_id = {root}"));
        }
        if let Some(path) = self.path.as_deref().filter(|path| *path != "/") {
            // Everything below `/a` sorts from `/a/` up to (not including) `/a0`: `0` is the
            // byte after `/`. A range keeps the (root_id, path, id) index usable.
            let exact = bind(Value::Text(path.to_string()), &mut values);
            let low = bind(Value::Text(format!("{path}/")), &mut values);
            let high = bind(Value::Text(format!("{path}0")), &mut values);
            conditions.push(format!("(path = {exact} OR (path >= {low} AND path < {high}))"));
        }
        if let Some(user_id) = self.about_user {
            let user = bind(Value::Integer(user_id), &mut values);
            conditions.push(format!("(actor_id = {user} OR target_user_id = {user})"));
        }
        if let Some(ids) = &self.organization_ids {
            let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
            conditions.push(format!("organization_id IN ({list})"));
        }
        if let Some(since) = &self.since {
            let since = bind(Value::Text(since.clone()), &mut values);
            conditions.push(format!("created >= {since}"));
        }
        if let Some(until) = &self.until {
            let until = bind(Value::Text(until.clone()), &mut values);
            conditions.push(format!("created <= {until}"));
        }
        if !self.actions.is_empty() {
            let mut alternatives = Vec::new();
            for pattern in &self.actions {
                match pattern {
                    ActionPattern::Exact(action) => {
                        let action = bind(Value::Text(action.clone()), &mut values);
                        alternatives.push(format!("action = {action}"));
                    }
                    ActionPattern::Prefix(prefix) => {
                        let length = bind(Value::Integer(prefix.len() as i64), &mut values);
                        let prefix = bind(Value::Text(prefix.clone()), &mut values);
                        alternatives.push(format!("substr(action, 1, {length}) = {prefix}"));
                    }
                }
            }
            conditions.push(format!("({})", alternatives.join(" OR ")));
        }
        if let Some(user_id) = self.user_id {
            let user = bind(Value::Integer(user_id), &mut values);
            conditions.push(format!("(actor_id = {user} OR target_user_id = {user})"));
        }
        if conditions.is_empty() {
            conditions.push("1 = 1".into());
        }
        (conditions.join(" AND "), values)
    }
}

/// The SQL of one page of entries, newest first, and its values.
pub fn page_query(filter: &ActivityFilter, offset: i64, limit: i64) -> (String, Vec<Value>) {
    let (conditions, values) = filter.where_clause();
    (
        format!(
            "SELECT {COLUMNS} FROM activity WHERE {conditions}
             ORDER BY id DESC LIMIT {limit} OFFSET {offset}"
        ),
        values,
    )
}

/// One page of entries matching `filter`, newest first.
pub fn list_activity(
    conn: &Connection,
    filter: &ActivityFilter,
    offset: i64,
    limit: i64,
) -> rusqlite::Result<Vec<ActivityRow>> {
    let (sql, values) = page_query(filter, offset, limit);
    let mut statement = conn.prepare_cached(&sql)?;
    let rows = statement.query_map(params_from_iter(values), from_row)?;
    rows.collect()
}

/// How many entries match `filter`.
pub fn count_activity(conn: &Connection, filter: &ActivityFilter) -> rusqlite::Result<i64> {
    let (conditions, values) = filter.where_clause();
    conn.prepare_cached(&format!("SELECT COUNT(*) FROM activity WHERE {conditions}"))?
        .query_row(params_from_iter(values), |row| row.get(0))
}

/// Finds one entry by id.
pub fn find_activity(conn: &Connection, id: i64) -> rusqlite::Result<Option<ActivityRow>> {
    use rusqlite::OptionalExtension;
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM activity WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()
}

/// The newest entry id, or 0 for an empty log.
pub fn newest_activity_id(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT COALESCE(MAX(id), 0) FROM activity", [], |row| row.get(0))
}

/// Up to `batch` entries matching `filter` with ids above `after_id` and at most `up_to_id`,
/// oldest first: the next slice of an export.
pub fn activity_batch(
    conn: &Connection,
    filter: &ActivityFilter,
    after_id: i64,
    up_to_id: i64,
    batch: i64,
) -> rusqlite::Result<Vec<ActivityRow>> {
    let (conditions, values) = filter.where_clause();
    let mut statement = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM activity WHERE {conditions} AND id > {after_id} AND id <= {up_to_id}
         ORDER BY id ASC LIMIT {batch}"
    ))?;
    let rows = statement.query_map(params_from_iter(values), from_row)?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(conn: &Connection, filter: &ActivityFilter) -> String {
        let (sql, values) = page_query(filter, 0, 100);
        let mut statement = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let details: Vec<String> = statement
            .query_map(params_from_iter(values), |row| row.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        details.join(" | ")
    }

    /// The newest page of every common read is found through an index, not by reading the
    /// whole log and sorting it.
    #[test]
    fn common_reads_use_an_index() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::db::migrate::migrate(&mut conn).unwrap();
        // Statistics of a log with two million entries over 100 roots, 1000 users and 10
        // organizations, so that the planner chooses as it would in the field.
        conn.execute_batch(
            "ANALYZE;
             INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES
                 ('activity', NULL, '2000000'),
                 ('activity', 'activity_root', '2000000 20000 1'),
                 ('activity', 'activity_root_path', '2000000 20000 20 1'),
                 ('activity', 'activity_actor', '2000000 2000 1'),
                 ('activity', 'activity_target_user', '2000000 2000 1'),
                 ('activity', 'activity_organization', '2000000 200000 1'),
                 ('activity', 'activity_created', '2000000 2');
             ANALYZE sqlite_schema;",
        )
        .unwrap();
        let root = ActivityFilter { root_id: Some(3), ..ActivityFilter::default() };
        let folder = ActivityFilter { path: Some("/Projects".into()), ..root.clone() };
        let user = ActivityFilter { about_user: Some(5), ..ActivityFilter::default() };
        let organization =
            ActivityFilter { organization_ids: Some(vec![2]), ..ActivityFilter::default() };
        let everything = ActivityFilter::default();
        let range = ActivityFilter {
            since: Some("2026-01-01T00:00:00Z".into()),
            until: Some("2026-01-31T23:59:59Z".into()),
            ..ActivityFilter::default()
        };
        let cases = [
            ("root", root, "USING INDEX activity_root (root_id=?)"),
            ("folder or file", folder, "USING INDEX activity_root_path (root_id=? AND path=?)"),
            ("user", user, "USING INDEX activity_target_user (target_user_id=?)"),
            ("organization", organization, "USING INDEX activity_organization"),
            ("time range", range, "USING INDEX activity_created"),
        ];
        for (case, filter, index) in cases {
            let plan = plan(&conn, &filter);
            assert!(plan.contains(index), "{case}: {plan}");
            assert!(!plan.contains("SCAN activity"), "{case} reads the whole log: {plan}");
        }
        // The whole log's newest page walks the table backwards from its newest row.
        let plan = plan(&conn, &everything);
        assert_eq!(plan, "SCAN activity", "whole log");
    }
}
