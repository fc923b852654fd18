// Package review is qgate's approval state machine, shared by every
// listener (HTTP, PostgreSQL, MySQL): it knows nothing of protocols.
//
// A review is created pending from a review decision, with the exact
// payload and its hash. It then ends in exactly one of:
//
//	pending → approved   every requirement has its quorum of distinct people
//	pending → rejected   one eligible approver rejected
//	pending → expired    its timeout passed
//	pending → cancelled  the client went away or withdrew it
//
// and an approved review may be executed exactly once (ExecutedAt).
//
// Rules: the requester can never vote on their own review (no admin
// exception); a voter must belong to a required group; a person counts once
// however many groups they are in; one rejection rejects. Every change is a
// compare-and-set on the store's version, so two approvers clicking at once
// cannot skip a step or double-count; the loser retries on fresh state.
//
// Waiters are woken at once on any change through an in-process hub. A
// store shared by several replicas can feed remote changes in with
// Engine.Changed, so waiters elsewhere wake too.
package review
