// Package audit writes and checks qgate's hash-chained audit log.
//
// Every audit event carries the hash of the event before it (see
// qgate.AuditEvent.ChainHash), so editing, deleting or reordering stored
// records breaks the chain at a point Verify can name.
//
// Log is the writer the rest of qgate uses: Append blocks until the event
// is durable, and concurrent callers share one store transaction (group
// commit), so the cost of each fsync is spread over every event that
// arrived while the previous one was running. Under DurabilitySync, the
// request events of allowed calls can go to a journal first (package
// audit/journal, ReplayJournal), which is cheaper to make durable than a
// store transaction.
//
// Verify streams the whole chain from a store and reports the first broken
// record; Export writes events as JSON lines for other tools.
package audit
