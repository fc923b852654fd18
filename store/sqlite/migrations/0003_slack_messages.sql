-- Where each review's Slack message is (notify/slack), so that a restarted
-- qgate still updates it in place. One row per review; ts is Slack's
-- message id within the channel. This migration touches nothing else, so it
-- may be applied before or after 0002 (see migrate).

CREATE TABLE slack_messages (
	review_id  INTEGER PRIMARY KEY REFERENCES reviews (id) ON DELETE CASCADE,
	channel    TEXT NOT NULL,
	ts         TEXT NOT NULL,
	updated_at INTEGER NOT NULL
);
