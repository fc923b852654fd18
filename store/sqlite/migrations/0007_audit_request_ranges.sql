-- A block records the range of the request ids it holds, [req_lo, req_hi],
-- instead of one audit_requests row per request: request ids are UUIDv7,
-- which sort by the time they were made, and a block's events are mostly
-- those of requests made in the few milliseconds before it. The rows cost
-- about 4 % of an HTTP gateway's CPU per call.
--
-- The range covers the UUIDv7 ids made within requestRangeSpan (see
-- auditblock.go) of the newest one in the block; every other id (an old
-- request's later event, an id of another form) still gets its row. Blocks
-- written before have NULL here and a row for every request. qgate audit
-- verify checks both columns against the events, as it checks the rows.
ALTER TABLE audit_blocks ADD COLUMN req_lo TEXT;
ALTER TABLE audit_blocks ADD COLUMN req_hi TEXT;
-- Covers the lookup: the events column comes before these two in a row,
-- so reading them from the table would read every block's text.
CREATE INDEX audit_blocks_requests ON audit_blocks (req_lo, req_hi);
