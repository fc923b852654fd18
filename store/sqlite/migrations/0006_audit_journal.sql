-- How far the audit journal (package audit/journal) of the gateway using
-- this file has been applied: the journal sequence number of the last
-- journaled event stored here. It is written in the same transaction as
-- the events, so after a crash the journal's entries above it, and only
-- those, are appended again.
CREATE TABLE audit_journal (
	id      INTEGER PRIMARY KEY CHECK (id = 1),
	applied INTEGER NOT NULL
);
