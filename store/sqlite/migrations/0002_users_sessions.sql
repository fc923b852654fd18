-- Local users and web UI sessions (sign-in). Times are INTEGER unix
-- nanoseconds (UTC) as in 0001; NULL is the zero time.

-- password_hash is a PHC-format argon2id string with its own parameters,
-- so they can be raised later and old hashes still verify.
CREATE TABLE users (
	name          TEXT PRIMARY KEY,
	email         TEXT NOT NULL DEFAULT '',
	password_hash TEXT NOT NULL,
	created_at    INTEGER NOT NULL,
	updated_at    INTEGER,
	disabled_at   INTEGER
);

-- A session's cookie secret is never stored, only its SHA-256
-- (secret_hash); id is a public name for listing and revoking it.
CREATE TABLE sessions (
	id           TEXT PRIMARY KEY,
	secret_hash  BLOB NOT NULL UNIQUE,
	identity     TEXT NOT NULL,
	groups       TEXT NOT NULL DEFAULT 'null',
	method       TEXT NOT NULL,
	created_at   INTEGER NOT NULL,
	last_seen_at INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL,
	idle_timeout INTEGER NOT NULL DEFAULT 0,
	revoked_at   INTEGER,
	source_ip    TEXT NOT NULL DEFAULT '',
	user_agent   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_identity ON sessions (identity, created_at);
