// Package sqlite is qgate's embedded default store: every qgate.Store
// contract on one SQLite file, through the pure-Go modernc.org/sqlite driver
// (no cgo).
//
// # Durability
//
// The file runs in WAL mode with synchronous=FULL, so a transaction that
// has committed, and therefore every audit append that has returned, is on
// disk before the call returns: it survives a crash of the process and a
// loss of power. synchronous=NORMAL would be faster but can lose the last
// transactions on power loss, which an audit log cannot accept. The cost of
// the fsync per commit is amortised by group commit in package audit, which
// appends many events in one transaction, and, for the gateway's allowed
// calls, by the audit journal (package audit/journal) kept beside the file
// (AuditJournalPath): the events are on disk there first and committed
// here in large batches, with the journal mark (AppendAuditMarked).
//
// # Concurrency
//
// Writes go through a pool of exactly one connection, since SQLite has a
// single writer anyway; reads use a separate pool of query-only
// connections, which WAL lets run beside the writer. Write transactions
// begin IMMEDIATE, taking SQLite's write lock up front, so that two
// processes appending to the same file still serialise and keep one audit
// chain.
//
// # Schema
//
// Migrations are embedded (migrations/NNNN_name.sql), recorded in the
// schema_migrations table and applied in order, in one transaction, by
// Open. A file whose schema is newer than this build knows is refused with
// ErrSchemaNewer rather than used.
//
// Times are stored as INTEGER unix nanoseconds in UTC, NULL for the zero
// time; lists and nested values (roles, targets, votes, decisions) as JSON
// text; audit data as a BLOB holding exactly the bytes that were hashed.
package sqlite
