-- Initial schema. Times are INTEGER unix nanoseconds (UTC); NULL is the zero
-- time. Lists and nested values are JSON text.

CREATE TABLE identities (
	name       TEXT PRIMARY KEY,
	email      TEXT NOT NULL DEFAULT '',
	kind       TEXT NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL
);

CREATE TABLE tokens (
	id               TEXT PRIMARY KEY,
	name             TEXT NOT NULL DEFAULT '',
	identity         TEXT NOT NULL,
	roles            TEXT NOT NULL DEFAULT 'null',
	targets          TEXT NOT NULL DEFAULT 'null',
	environments     TEXT NOT NULL DEFAULT 'null',
	secret_hash      BLOB,
	prev_secret_hash BLOB,
	prev_valid_until INTEGER,
	scram            TEXT NOT NULL DEFAULT '',
	prev_scram       TEXT NOT NULL DEFAULT '',
	created_at       INTEGER NOT NULL,
	expires_at       INTEGER,
	revoked_at       INTEGER,
	last_used        INTEGER
);
CREATE INDEX tokens_identity ON tokens (identity, created_at);

CREATE TABLE reviews (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	status       TEXT NOT NULL,
	protocol     TEXT NOT NULL DEFAULT '',
	target       TEXT NOT NULL DEFAULT '',
	environment  TEXT NOT NULL DEFAULT '',
	request_id   TEXT NOT NULL DEFAULT '',
	requester    TEXT NOT NULL DEFAULT '',
	token_id     TEXT NOT NULL DEFAULT '',
	source_ip    TEXT NOT NULL DEFAULT '',
	payload      TEXT NOT NULL DEFAULT '',
	payload_hash TEXT NOT NULL DEFAULT '',
	shape        TEXT NOT NULL DEFAULT '',
	decision     TEXT NOT NULL DEFAULT '{}',
	votes        TEXT NOT NULL DEFAULT 'null',
	reason       TEXT NOT NULL DEFAULT '',
	created_at   INTEGER NOT NULL,
	expires_at   INTEGER,
	decided_at   INTEGER,
	executed_at  INTEGER,
	version      INTEGER NOT NULL
);
CREATE INDEX reviews_status ON reviews (status, created_at);
CREATE INDEX reviews_created ON reviews (created_at);

CREATE TABLE grants (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	token_id   TEXT NOT NULL,
	target     TEXT NOT NULL,
	shape      TEXT NOT NULL,
	review_id  INTEGER NOT NULL DEFAULT 0,
	created_by TEXT NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	revoked_at INTEGER
);
CREATE INDEX grants_lookup ON grants (token_id, target, shape, expires_at);

-- The audit chain. seq is assigned by AppendAudit, never by SQLite, and data
-- is a BLOB so its bytes come back exactly as hashed.
CREATE TABLE audit_events (
	seq         INTEGER PRIMARY KEY,
	time        INTEGER NOT NULL,
	type        TEXT NOT NULL,
	action      TEXT NOT NULL,
	request_id  TEXT NOT NULL DEFAULT '',
	token_id    TEXT NOT NULL DEFAULT '',
	identity    TEXT NOT NULL DEFAULT '',
	target      TEXT NOT NULL DEFAULT '',
	environment TEXT NOT NULL DEFAULT '',
	review_id   INTEGER NOT NULL DEFAULT 0,
	data        BLOB,
	prev_hash   TEXT NOT NULL,
	hash        TEXT NOT NULL
);
CREATE INDEX audit_events_time ON audit_events (time);
CREATE INDEX audit_events_token ON audit_events (token_id);
-- Request ids should be time-ordered (UUIDv7-like): random ids make every
-- append dirty a different page of this index, which costs about a third
-- of the append throughput.
CREATE INDEX audit_events_request ON audit_events (request_id);
CREATE INDEX audit_events_review ON audit_events (review_id);
