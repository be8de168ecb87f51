-- AXIS CloudSync database schema, version 1.
--
-- Applied to an empty database at first start (PRAGMA user_version = 0 -> 1). Changes after
-- a release are forward-only steps in src/db/migrate.rs; this file is never edited for a
-- database that already exists in the field.
--
-- Conventions: every time is TEXT in RFC 3339 UTC with a `Z` and whole seconds, so text
-- order is time order. Booleans are INTEGER 0/1. Sizes are INTEGER bytes.

-- The tree of organizations. The top organization (parent_id NULL) is made at first start
-- and can never be deleted.
CREATE TABLE organizations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: the log names ids
    name        TEXT NOT NULL,
    parent_id   INTEGER REFERENCES organizations(id),
    email       TEXT,
    description TEXT,
    space_quota INTEGER,                 -- NULL = unlimited
    active      INTEGER NOT NULL DEFAULT 1,
    created     TEXT NOT NULL
);
CREATE INDEX organizations_parent ON organizations(parent_id);

-- People who sign in. Usernames and emails are unique without regard to case.
CREATE TABLE users (
    id              INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: the log names ids
    username        TEXT NOT NULL UNIQUE COLLATE NOCASE,
    email           TEXT UNIQUE COLLATE NOCASE,
    password_hash   TEXT NOT NULL,       -- bcrypt
    first_name      TEXT NOT NULL DEFAULT '',
    last_name       TEXT NOT NULL DEFAULT '',
    organization_id INTEGER NOT NULL REFERENCES organizations(id),
    role            TEXT NOT NULL CHECK (role IN ('user', 'org_admin', 'system_admin')),
    active          INTEGER NOT NULL DEFAULT 1,
    -- Second sign-in step: 'none', 'email', 'sms' or 'authenticator'.
    two_step_mode   TEXT NOT NULL DEFAULT 'none'
                    CHECK (two_step_mode IN ('none', 'email', 'sms', 'authenticator')),
    mobile_phone    TEXT,
    totp_secret     TEXT,                -- base32, only for 'authenticator'
    totp_last_step  INTEGER,             -- last accepted TOTP time step: a code works once
    space_quota     INTEGER,             -- NULL = unlimited
    created         TEXT NOT NULL,
    last_login      TEXT
);
CREATE INDEX users_organization ON users(organization_id);

-- Session tokens. Only the SHA-256 of a token is stored; expiry is computed from `created`
-- and the current api_token_hours policy, so a policy change applies to issued tokens.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,         -- hex SHA-256 of the token
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created    TEXT NOT NULL,
    revoked    INTEGER NOT NULL DEFAULT 0,
    ip         TEXT
) WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions(user_id);

-- Failed sign-ins, keyed 'user:<lowercased name>' or 'ip:<address>', for lockouts.
CREATE TABLE login_failures (
    key TEXT NOT NULL,
    at  TEXT NOT NULL
);
CREATE INDEX login_failures_key_at ON login_failures(key, at);

-- A key that failed too often is refused until `until`.
CREATE TABLE lockouts (
    key   TEXT PRIMARY KEY,
    until TEXT NOT NULL
) WITHOUT ROWID;

-- One-time codes for the second sign-in step by email or SMS.
CREATE TABLE auth_codes (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash  TEXT NOT NULL,            -- hex SHA-256 of the six digits
    channel    TEXT NOT NULL,            -- 'email' or 'sms'
    created    TEXT NOT NULL,
    expires    TEXT NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    used       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX auth_codes_user ON auth_codes(user_id);

-- Server-wide policies: exactly one row.
CREATE TABLE policies (
    id                  INTEGER PRIMARY KEY CHECK (id = 1),
    api_token_hours     INTEGER NOT NULL DEFAULT 720,
    require_two_step    INTEGER NOT NULL DEFAULT 0,
    password_min_length INTEGER NOT NULL DEFAULT 8,
    max_failed_logins   INTEGER NOT NULL DEFAULT 5,
    lockout_minutes     INTEGER NOT NULL DEFAULT 15,
    share_links_enabled INTEGER NOT NULL DEFAULT 1,
    share_link_max_days INTEGER NOT NULL DEFAULT 0,     -- 0 = no limit
    default_user_quota  INTEGER                          -- NULL = unlimited
);

-- Agents (desktop and server programs) that sync and back up.
CREATE TABLE machines (
    id              INTEGER PRIMARY KEY,
    guid            TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    hostname        TEXT NOT NULL DEFAULT '',
    machine_type    TEXT NOT NULL,
    os_type         TEXT NOT NULL DEFAULT '',
    os_version      TEXT NOT NULL DEFAULT '',
    agent_version   TEXT NOT NULL DEFAULT '',
    user_id         INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    organization_id INTEGER NOT NULL REFERENCES organizations(id),
    created         TEXT NOT NULL,
    last_seen       TEXT,
    last_ip         TEXT,
    status          TEXT NOT NULL DEFAULT ''
);
CREATE INDEX machines_user ON machines(user_id);
CREATE INDEX machines_organization ON machines(organization_id);

-- Tops of file trees: a user's sync folder, a machine's backup, or a Team Share.
CREATE TABLE roots (
    id              INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: the log names ids
    name            TEXT NOT NULL,
    type            TEXT NOT NULL CHECK (type IN ('sync', 'backup', 'share')),
    owner_id        INTEGER REFERENCES users(id),
    organization_id INTEGER NOT NULL REFERENCES organizations(id),
    machine_id      INTEGER REFERENCES machines(id) ON DELETE SET NULL,
    -- NULL: the root lives in the default folder <data-dir>/roots/<id>. Otherwise an
    -- existing absolute folder a system admin mapped (left on disk when the root is deleted).
    path            TEXT,
    space_quota     INTEGER,             -- NULL = unlimited
    space_used      INTEGER NOT NULL DEFAULT 0,
    created         TEXT NOT NULL
);
CREATE INDEX roots_owner ON roots(owner_id);
CREATE INDEX roots_organization ON roots(organization_id);

-- Users who reach a root besides its owner, at 'read', 'write', 'delete' or 'admin'.
CREATE TABLE root_members (
    root_id    INTEGER NOT NULL REFERENCES roots(id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    permission TEXT NOT NULL CHECK (permission IN ('read', 'write', 'delete', 'admin')),
    PRIMARY KEY (root_id, user_id)
) WITHOUT ROWID;
CREATE INDEX root_members_user ON root_members(user_id);

-- The activity log: one row per change and per sign-in, written in the change's
-- transaction. Ids only grow, so id order is time order.
CREATE TABLE activity (
    id                     INTEGER PRIMARY KEY,
    created                TEXT NOT NULL,
    action                 TEXT NOT NULL,
    actor_id               INTEGER,
    actor_username         TEXT,
    organization_id        INTEGER,
    root_id                INTEGER,
    path                   TEXT,
    target_user_id         INTEGER,
    target_organization_id INTEGER,
    machine_id             INTEGER,
    ip                     TEXT,
    details                TEXT NOT NULL DEFAULT '{}'   -- a JSON object
);
CREATE INDEX activity_root ON activity(root_id, id);
CREATE INDEX activity_actor ON activity(actor_id, id);
CREATE INDEX activity_organization ON activity(organization_id, id);
CREATE INDEX activity_target_user ON activity(target_user_id, id);

-- FILES AND FOLDERS ------------------------------------------------------------------------
-- The index of every file and folder of every root. Listings, hashes, revisions, search and
-- the delta feed are queries on these tables, never walks of the disk. The bytes of the
-- current version of a file sit in the root's folder under the file's own name; older and
-- deleted versions sit in <data-dir>/revisions/<rev>.

-- One row per path ever used in a root. A deleted entry keeps its row (is_deleted = 1) so
-- that it can be restored and so that the delta feed can report the deletion.
CREATE TABLE entries (
    id           INTEGER PRIMARY KEY,
    root_id      INTEGER NOT NULL REFERENCES roots(id) ON DELETE CASCADE,
    path         TEXT NOT NULL,          -- '/Docs/Report.pdf': case kept, names in NFC
    -- The path lowercased. One row per key and root: two names that differ only by case
    -- cannot share a folder.
    path_key     TEXT NOT NULL,
    parent_key   TEXT NOT NULL,          -- path_key of the folder holding it; '/' at the top
    name         TEXT NOT NULL,          -- the last name of path
    name_key     TEXT NOT NULL,          -- the name lowercased, for search
    is_dir       INTEGER NOT NULL,
    size         INTEGER NOT NULL DEFAULT 0,   -- bytes; 0 for folders
    modified     TEXT NOT NULL,
    rev          TEXT NOT NULL,          -- opaque, new on every change of the entry
    content_hash TEXT,                   -- SHA-256 hex of the content; NULL for folders
    is_deleted   INTEGER NOT NULL DEFAULT 0,
    -- Position in the root's change feed: larger than every earlier change of the root.
    change_seq   INTEGER NOT NULL,
    UNIQUE (root_id, path_key)
);
CREATE INDEX entries_parent ON entries(root_id, parent_key, path_key);
CREATE INDEX entries_changes ON entries(root_id, change_seq);

-- Every stored version of a file, newest with the largest id. The version that is the
-- entry's live content has stored = 0 (its bytes are the file in the root's folder); older
-- and deleted versions have stored = 1 (bytes in <data-dir>/revisions/<rev>).
CREATE TABLE revisions (
    id           INTEGER PRIMARY KEY,
    rev          TEXT NOT NULL UNIQUE,
    entry_id     INTEGER NOT NULL REFERENCES entries(id) ON DELETE CASCADE,
    size         INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    modified     TEXT NOT NULL,
    stored       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX revisions_entry ON revisions(entry_id, id);

-- Where each root's change feed may be read from. When deleted entries are removed for good
-- (a move landing on them), the deletions they stood for can no longer be reported, so a
-- delta cursor from before that moment answers `reset`. No row: the whole feed is readable.
CREATE TABLE delta_floors (
    root_id INTEGER PRIMARY KEY REFERENCES roots(id) ON DELETE CASCADE,
    seq     INTEGER NOT NULL                 -- cursors below this position must start over
);

-- Chunked uploads in progress. The bytes so far sit in <data-dir>/uploads/<id>; an upload
-- not continued before `expires` is removed with its file.
CREATE TABLE uploads (
    id      TEXT PRIMARY KEY,                -- 128 random bits, hex
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    received INTEGER NOT NULL DEFAULT 0,     -- bytes received so far: the next offset
    created TEXT NOT NULL,
    expires TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX uploads_expires ON uploads(expires);

-- Activity reads (users, organizations, activity log): the scopes read newest first by id,
-- so each index ends in id. A folder or file of a root is found by (root_id, path); a time
-- range over the whole log by created.
CREATE INDEX activity_root_path ON activity(root_id, path, id);
CREATE INDEX activity_created ON activity(created);

-- SHARE LINKS ------------------------------------------------------------------------------
-- A link lets anyone who has it reach one file or folder of a root without signing in. The
-- link goes with its root and with the user who made it (ON DELETE CASCADE), so deleting a
-- user, a root or an organization never trips over a link.
CREATE TABLE share_links (
    id             TEXT PRIMARY KEY,         -- 128 random bits, hex: the capability itself
    root_id        INTEGER NOT NULL REFERENCES roots(id) ON DELETE CASCADE,
    path           TEXT NOT NULL,            -- the shared entry's path as stored ('/' = top)
    is_dir         INTEGER NOT NULL,
    created        TEXT NOT NULL,
    created_by     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    expires        TEXT,                     -- NULL = never
    download_limit INTEGER CHECK (download_limit IS NULL OR download_limit >= 1),
    -- Downloads granted so far. Raised only by one conditional UPDATE that also checks the
    -- limit and the expiry, so concurrent downloads never pass the limit.
    download_count INTEGER NOT NULL DEFAULT 0,
    password_hash  TEXT,                     -- bcrypt; NULL = no password
    allow_upload   INTEGER NOT NULL DEFAULT 0  -- folders only: visitors may add files
) WITHOUT ROWID;
CREATE INDEX share_links_root ON share_links(root_id);
CREATE INDEX share_links_created_by ON share_links(created_by, created);

-- Keys the server signs with, made once on first use: 'share_cookie' signs the cookies that
-- remember a share link's password was given.
CREATE TABLE server_keys (
    name TEXT PRIMARY KEY,
    key  TEXT NOT NULL                       -- 256 random bits, hex
) WITHOUT ROWID;
