// Package slack posts review requests to a Slack channel and lets
// approvers decide them with buttons.
//
// Notifier implements qgate.Notifier. Notify never blocks: it queues the
// event for one worker, which calls Slack's Web API (through
// github.com/slack-go/slack) in order, retrying network errors, 5xx and
// rate limits (honouring Retry-After, capped at a minute); an error Slack
// itself reports (invalid_auth, channel_not_found, …) is final. A full queue
// drops the event; failures and drops are logged and counted (Stats).
//
//   - review.created: chat.postMessage to the channel, with the requester,
//     target and environment, risk level and findings, matched policies, the
//     payload in a code block (first 1,500 characters, escaped for mrkdwn,
//     "…" and a link to the review page when cut), and buttons Approve
//     (qgate_approve, with a confirmation), Reject (qgate_reject) and
//     "Review in qgate" (a link). The buttons' value is the review id.
//   - review.voted: the message is updated in place with who approved so far.
//   - review.decided, review.ended, review.executed: the message is updated
//     in place (chat.update) with the outcome and who decided; no buttons.
//
// The message's channel and ts are remembered per review id, in memory and
// in Options.Messages (a MessageStore; store/sqlite keeps them in the
// slack_messages table), so a restarted qgate still updates the message in
// place. A click on a message qgate has no record of records it.
//
// # Link-only reviews
//
// A policy whose review says slack: link wants its approvals behind the web
// UI's sign-in. A review with any such requirement gets only the "Review in
// qgate" link, and decisions arriving from Slack for it are refused: a vote
// counts toward every requirement whose groups the voter is in, so a Slack
// vote on a mixed review would also satisfy the link-only policy.
//
// # Interactivity
//
// InteractionHandler serves the app's interactivity request URL. It reads
// the raw body (at most 1 MiB) and checks Slack's v0 signature:
// X-Slack-Signature must be "v0=" + hex HMAC-SHA256(signing secret,
// "v0:<X-Slack-Request-Timestamp>:<body>") (compared in constant time), the
// timestamp within 5 minutes of the clock, and the (timestamp, signature)
// pair not seen before within that window. Anything else gets 401 and is
// not acted on. A valid request gets 200 at once; the click is handled in
// the background: users.info gives the clicker's profile e-mail,
// Options.Identities maps it to a qgate identity and groups (Directory:
// the configuration's slack.identities first, then the identity whose
// stored e-mail it is; groups from the configuration), and the vote
// goes to Options.Reviews (the review engine, which enforces the
// requester-cannot-approve, group and quorum rules). Refusals — a Slack user
// without a qgate identity, a rule of the engine, a link-only review — are
// shown to the clicker alone, as an ephemeral message through the
// interaction's response_url (which must start with
// Options.ResponseURLPrefix, https://hooks.slack.com/ by default, or the
// scheme and host of Options.APIURL).
//
// Logs never contain the bot token, the signing secret, response URLs or
// payloads; they name the review id, the Slack user id and the identity.
//
// Setting up the Slack app, the configuration keys and what approvers see
// are described in docs/slack.md.
package slack
