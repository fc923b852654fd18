-- The audit chain moves from one row per event, with four secondary
-- indexes, to one row per appended batch (a block): every allowed call
-- writes two events, and at tens of thousands of calls a second the per-row
-- and per-index work was most of the gateway's CPU time.
--
-- A block holds its events as text, one JSON object each, in seq order and
-- separated by newlines, in encoding/json's form of a qgate.AuditEvent
-- with the event's data as it was appended (event data can hold
-- newlines of its own, so readers
-- decode the text as a stream of JSON values rather than split lines). The
-- other columns describe the events and are checked against them when the
-- chain is scanned (qgate audit verify).
CREATE TABLE audit_blocks (
	first_seq INTEGER PRIMARY KEY,
	last_seq  INTEGER NOT NULL,
	min_time  INTEGER NOT NULL,
	max_time  INTEGER NOT NULL,
	last_hash TEXT NOT NULL,
	events    TEXT NOT NULL
);
-- Time bounds of a listing become seq bounds through these (ListAudit).
CREATE INDEX audit_blocks_time ON audit_blocks (max_time);
CREATE INDEX audit_blocks_min_time ON audit_blocks (min_time);

-- Which blocks hold events of a request or of a review: one row per block
-- and request (or review), not per event. Other filters (token, identity,
-- target, type, action, time) scan blocks newest or oldest first.
CREATE TABLE audit_requests (
	request_id TEXT NOT NULL,
	first_seq  INTEGER NOT NULL,
	PRIMARY KEY (request_id, first_seq)
) WITHOUT ROWID;
CREATE TABLE audit_reviews (
	review_id INTEGER NOT NULL,
	first_seq INTEGER NOT NULL,
	PRIMARY KEY (review_id, first_seq)
) WITHOUT ROWID;

-- Events of the old table are moved into blocks by Go code that runs right
-- after this file, in the same transaction (see migrate.go), because their
-- data must be copied byte for byte; the old table is then dropped.
