-- Most audit events belong to no review (review_id 0), yet every append
-- paid for an entry in audit_events_review. Only events of a review are
-- looked up by it; ListAudit adds "review_id != 0" so that SQLite can use
-- this partial index with a bound parameter.
DROP INDEX audit_events_review;
CREATE INDEX audit_events_review ON audit_events (review_id) WHERE review_id != 0;
