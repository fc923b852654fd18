package slack

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	slackapi "github.com/slack-go/slack"

	"github.com/qgate/qgate"
)

func itoa(id int64) string { return strconv.FormatInt(id, 10) }

// slackMayDecide reports whether votes cast in Slack are accepted for r.
// A requirement with SlackMode "link" wants its approvals behind the web
// UI's sign-in; since one vote counts toward every requirement whose
// groups the voter is in, a single "link" requirement makes the whole
// review link-only.
func slackMayDecide(r *qgate.Review) bool {
	for _, req := range r.Decision.Requirements {
		if req.SlackMode == "link" {
			return false
		}
	}
	return true
}

// escape makes s safe inside Slack mrkdwn: &, < and > are control
// characters there (links, mentions).
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// codeBlock renders payload as a mrkdwn code block of at most limit
// characters, keeping the escaped text under Slack's 3,000-character
// section limit. It reports how many characters were left out.
func codeBlock(payload string, limit int) (string, int) {
	total := utf8.RuneCountInString(payload)
	n := min(total, limit)
	for {
		shown := string([]rune(payload)[:n])
		// A ``` inside the payload would end the block early.
		body := strings.ReplaceAll(escape(shown), "```", "`\u200b`\u200b`")
		if n < total {
			body += "…"
		}
		if len(body) <= 2900 || n == 0 {
			return "```" + body + "```", total - n
		}
		n = n * 3 / 4
	}
}

func mrkdwn(s string) *slackapi.TextBlockObject {
	return slackapi.NewTextBlockObject(slackapi.MarkdownType, s, false, false)
}

func plain(s string) *slackapi.TextBlockObject {
	return slackapi.NewTextBlockObject(slackapi.PlainTextType, s, false, false)
}

// buildMessage renders the review's message: the request, its risk and,
// while pending, the buttons; once final, the outcome and who decided.
func buildMessage(r *qgate.Review, url string) (string, []slackapi.Block) {
	target := r.Target
	if r.Environment != "" {
		target += " (" + r.Environment + ")"
	}
	title := fmt.Sprintf("Review #%d: %s wants to run a %s request on %s", r.ID, r.Requester, r.Protocol, target)
	fallback := title + ", risk " + r.Decision.Risk.Level.String() + " — " + statusWord(r.Status)

	var policies []string
	for _, m := range r.Decision.Matched {
		policies = append(policies, m.Name)
	}
	if len(policies) == 0 {
		policies = []string{"—"}
	}
	blocks := []slackapi.Block{
		slackapi.NewSectionBlock(mrkdwn(fmt.Sprintf("*<%s|Review #%d>* · %s", url, r.ID, escape(statusWord(r.Status)))), []*slackapi.TextBlockObject{
			mrkdwn("*Requester*\n" + escape(r.Requester)),
			mrkdwn("*Target*\n" + escape(target)),
			mrkdwn("*Risk*\n" + riskText(r.Decision.Risk.Level)),
			mrkdwn("*Policies*\n" + escape(strings.Join(policies, ", "))),
		}, nil),
	}
	var findings []string
	for i, f := range r.Decision.Risk.Findings {
		if i == 3 {
			findings = append(findings, fmt.Sprintf("… and %d more", len(r.Decision.Risk.Findings)-3))
			break
		}
		findings = append(findings, "• "+escape(f.Severity.String()+": "+f.Message))
	}
	if len(findings) > 0 {
		blocks = append(blocks, slackapi.NewContextBlock("", mrkdwn(strings.Join(findings, "\n"))))
	}
	code, cut := codeBlock(r.Payload, PayloadLimit)
	blocks = append(blocks, slackapi.NewSectionBlock(mrkdwn(code), nil, nil))
	if cut > 0 {
		blocks = append(blocks, slackapi.NewContextBlock("",
			mrkdwn(fmt.Sprintf("%d more characters not shown — <%s|see the whole request in qgate>", cut, url))))
	}

	if r.Status == qgate.ReviewPending {
		if v := votesText(r); v != "" {
			blocks = append(blocks, slackapi.NewContextBlock("", mrkdwn(v)))
		}
		blocks = append(blocks, slackapi.NewContextBlock("",
			mrkdwn(fmt.Sprintf("Expires <!date^%d^{date_short_pretty} {time}|%s>", r.ExpiresAt.Unix(), r.ExpiresAt.UTC().Format(time.RFC1123)))))
		id := itoa(r.ID)
		open := slackapi.NewButtonBlockElement(ActionOpen, id, plain("Review in qgate")).WithURL(url)
		if slackMayDecide(r) {
			approve := slackapi.NewButtonBlockElement(ActionApprove, id, plain("Approve")).WithStyle(slackapi.StylePrimary)
			approve.Confirm = slackapi.NewConfirmationBlockObject(plain("Approve review #"+id+"?"),
				plain("The request will run as shown."), plain("Approve"), plain("Cancel"))
			reject := slackapi.NewButtonBlockElement(ActionReject, id, plain("Reject")).WithStyle(slackapi.StyleDanger)
			blocks = append(blocks, slackapi.NewActionBlock("qgate_review_"+id, approve, reject, open))
		} else {
			blocks = append(blocks, slackapi.NewActionBlock("qgate_review_"+id, open))
		}
		return fallback, blocks
	}
	blocks = append(blocks, slackapi.NewSectionBlock(mrkdwn(outcomeText(r)), nil, nil))
	return fallback, blocks
}

func statusWord(s qgate.ReviewStatus) string {
	switch s {
	case qgate.ReviewPending:
		return "waiting for approval"
	case qgate.ReviewApproved:
		return "approved"
	case qgate.ReviewRejected:
		return "rejected"
	case qgate.ReviewExpired:
		return "expired"
	case qgate.ReviewCancelled:
		return "cancelled"
	}
	return string(s)
}

func riskText(l qgate.Severity) string {
	switch l {
	case qgate.SeverityHigh:
		return ":red_circle: high"
	case qgate.SeverityMedium:
		return ":large_orange_circle: medium"
	case qgate.SeverityLow:
		return ":large_yellow_circle: low"
	}
	return escape(l.String())
}

func votesText(r *qgate.Review) string {
	var yes []string
	for _, v := range r.Votes {
		if v.Approve {
			yes = append(yes, escape(v.Identity))
		}
	}
	if len(yes) == 0 {
		return ""
	}
	return "Approved so far by " + strings.Join(yes, ", ")
}

// outcomeText says how the review ended and who decided.
func outcomeText(r *qgate.Review) string {
	var yes, no []string
	for _, v := range r.Votes {
		if v.Approve {
			yes = append(yes, escape(v.Identity))
		} else {
			no = append(no, escape(v.Identity))
		}
	}
	var s string
	switch r.Status {
	case qgate.ReviewApproved:
		s = ":white_check_mark: *Approved* by " + strings.Join(yes, ", ")
		if !r.ExecutedAt.IsZero() {
			s += fmt.Sprintf("\nExecuted <!date^%d^{date_short_pretty} {time}|%s>", r.ExecutedAt.Unix(), r.ExecutedAt.UTC().Format(time.RFC1123))
		}
	case qgate.ReviewRejected:
		s = ":no_entry: *Rejected* by " + strings.Join(no, ", ")
	case qgate.ReviewExpired:
		s = ":hourglass: *Expired* without a decision"
	case qgate.ReviewCancelled:
		s = ":heavy_multiplication_x: *Cancelled*"
	default:
		s = "*" + escape(string(r.Status)) + "*"
	}
	if r.Reason != "" && r.Status != qgate.ReviewApproved {
		s += "\n> " + escape(strings.ReplaceAll(r.Reason, "\n", " "))
	}
	return s
}
