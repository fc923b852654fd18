package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/web"
)

// defaultServer is the server the reviews command talks to without
// --server or QGATE_SERVER.
const defaultServer = "http://127.0.0.1:8080"

func (m *Main) reviewsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "reviews",
		Short: "List, show, approve, reject and watch reviews on a running server",
		Long: `Talk to a running qgate server as yourself: the server is --server, or
$QGATE_SERVER, or ` + defaultServer + `; your own token is $QGATE_TOKEN.

Exit codes: 0 done; 1 refused by the server (not allowed, not found,
already decided); 2 bad usage; 3 the server could not be reached or failed.`,
	}
	var server string
	cmd.PersistentFlags().StringVar(&server, "server", "", "server URL (default $QGATE_SERVER or "+defaultServer+")")
	client := func() (*web.Client, error) { return reviewsClient(server) }
	// onReview parses a review id argument, connects, and runs fn.
	onReview := func(arg string, fn func(cl *web.Client, id int64) (*web.Review, error)) (*web.Review, error) {
		id, err := reviewArg(arg)
		if err != nil {
			return nil, err
		}
		cl, err := client()
		if err != nil {
			return nil, err
		}
		return fn(cl, id)
	}

	var (
		status, target, requester string
		limit                     int
		asJSON                    bool
	)
	list := &cobra.Command{
		Use:   "list [--status pending|all|approved|rejected|expired|cancelled] [--json]",
		Short: "List reviews, newest first",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cl, err := client()
			if err != nil {
				return err
			}
			rs, err := cl.ListReviews(c.Context(), web.ReviewQuery{Status: status, Target: target, Requester: requester, Limit: limit})
			if err != nil {
				return err
			}
			if asJSON {
				if rs == nil {
					rs = []*web.Review{}
				}
				return writeJSONOut(m.Stdout, rs)
			}
			return printReviewTable(m.Stdout, rs, time.Now())
		},
	}
	lf := list.Flags()
	lf.StringVar(&status, "status", "pending", "only reviews in this state, or all")
	lf.StringVar(&target, "target", "", "only reviews for this target")
	lf.StringVar(&requester, "requester", "", "only reviews requested by this identity")
	lf.IntVar(&limit, "limit", 50, "at most this many reviews")
	lf.BoolVar(&asJSON, "json", false, "print a JSON array of reviews")

	show := &cobra.Command{
		Use:   "show ID [--json]",
		Short: "Show a review: who asked, from where, policies, progress, findings, payload, votes",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			r, err := onReview(args[0], func(cl *web.Client, id int64) (*web.Review, error) { return cl.Review(c.Context(), id) })
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSONOut(m.Stdout, r)
			}
			printReview(m.Stdout, r, time.Now())
			return nil
		},
	}
	show.Flags().BoolVar(&asJSON, "json", false, "print the review as JSON")

	var comment, grant string
	approve := &cobra.Command{
		Use:   "approve ID [--comment TEXT] [--grant 30m]",
		Short: "Approve a review as yourself",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if grant != "" {
				if d, err := time.ParseDuration(grant); err != nil || d <= 0 {
					return usagef("--grant must be a duration such as 30m, not %q", grant)
				}
			}
			r, err := onReview(args[0], func(cl *web.Client, id int64) (*web.Review, error) {
				return cl.Approve(c.Context(), id, comment, grant)
			})
			if err != nil {
				return err
			}
			return m.printVote(r, asJSON)
		},
	}
	approve.Flags().StringVar(&comment, "comment", "", "a comment for the requester and the audit log")
	approve.Flags().StringVar(&grant, "grant", "", "also allow the same query shape from the same token for this long (e.g. 30m)")
	approve.Flags().BoolVar(&asJSON, "json", false, "print the resulting review as JSON")

	reject := &cobra.Command{
		Use:   "reject ID [--comment REASON]",
		Short: "Reject a review as yourself; the comment is the reason the requester sees",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			r, err := onReview(args[0], func(cl *web.Client, id int64) (*web.Review, error) { return cl.Reject(c.Context(), id, comment) })
			if err != nil {
				return err
			}
			return m.printVote(r, asJSON)
		},
	}
	reject.Flags().StringVar(&comment, "comment", "", "why: shown to the requester")
	reject.Flags().BoolVar(&asJSON, "json", false, "print the resulting review as JSON")

	watch := &cobra.Command{
		Use:   "watch [--json]",
		Short: "Print reviews as they are created and change, until interrupted",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cl, err := client()
			if err != nil {
				return err
			}
			return m.watch(c.Context(), cl, asJSON)
		},
	}
	watch.Flags().BoolVar(&asJSON, "json", false, "print one JSON review per line, with its \"event\"")

	cmd.AddCommand(list, show, approve, reject, watch)
	return cmd
}

// reviewsClient builds the API client from --server, QGATE_SERVER and
// QGATE_TOKEN.
func reviewsClient(server string) (*web.Client, error) {
	if server == "" {
		server = os.Getenv("QGATE_SERVER")
	}
	if server == "" {
		server = defaultServer
	}
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usagef("server URL must look like http://host:port, not %q", server)
	}
	token := strings.TrimSpace(os.Getenv("QGATE_TOKEN"))
	if token == "" {
		return nil, usagef("QGATE_TOKEN is not set\nhint: export QGATE_TOKEN=<your own token> (an admin issues it with 'qgate token create --identity YOU')")
	}
	return web.NewClient(server, token), nil
}

func reviewArg(s string) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimPrefix(s, "#"), 10, 64)
	if err != nil || id <= 0 {
		return 0, usagef("review ID must be a positive number, not %q", s)
	}
	return id, nil
}

// watch prints one line per review event until ctx ends.
func (m *Main) watch(ctx context.Context, cl *web.Client, asJSON bool) error {
	err := cl.Watch(ctx, func() {
		fmt.Fprintf(m.Stderr, "watching reviews on %s (Ctrl-C to stop)\n", cl.URL)
	}, func(ev web.Event) error {
		if asJSON {
			return writeJSONLine(m.Stdout, struct {
				Event string `json:"event"`
				*web.Review
			}{ev.Type, ev.Review})
		}
		_, err := fmt.Fprintln(m.Stdout, eventLine(ev, time.Now()))
		return err
	})
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return nil // interrupted: the normal way to stop
	}
	return err
}

func (m *Main) printVote(r *web.Review, asJSON bool) error {
	if asJSON {
		return writeJSONOut(m.Stdout, r)
	}
	switch r.Status {
	case qgate.ReviewPending:
		fmt.Fprintf(m.Stdout, "review %d: vote recorded, still pending (%s)\n", r.ID, progressText(r))
	case qgate.ReviewRejected:
		fmt.Fprintf(m.Stdout, "review %d rejected: %s\n", r.ID, r.Reason)
	default:
		fmt.Fprintf(m.Stdout, "review %d %s\n", r.ID, r.Status)
	}
	return nil
}

func writeJSONOut(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func writeJSONLine(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func printReviewTable(w io.Writer, rs []*web.Review, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATUS\tTARGET\tENV\tREQUESTER\tRISK\tAGE\tLEFT\tPAYLOAD")
	for _, r := range rs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Status, r.Target, dash(r.Environment), r.Requester,
			r.Decision.Risk.Level, age(now.Sub(r.CreatedAt)), timeLeft(r), oneLine(r.Payload, 60))
	}
	return tw.Flush()
}

func printReview(w io.Writer, r *web.Review, now time.Time) {
	decide := "no"
	if r.CanDecide {
		decide = "yes"
	}
	fmt.Fprintf(w, "Review %d: %s (you can decide: %s)\n", r.ID, r.Status, decide)
	tw := tabwriter.NewWriter(w, 0, 4, 1, ' ', 0)
	fmt.Fprintf(tw, "URL:\t%s\n", r.URL)
	fmt.Fprintf(tw, "Requester:\t%s (token %s) from %s\n", r.Requester, dash(r.TokenID), dash(r.SourceIP))
	fmt.Fprintf(tw, "Target:\t%s (%s, %s)\n", r.Target, dash(r.Environment), r.Protocol)
	fmt.Fprintf(tw, "Created:\t%s (%s ago)\n", fmtTime(r.CreatedAt), age(now.Sub(r.CreatedAt)))
	if r.Status == qgate.ReviewPending {
		fmt.Fprintf(tw, "Expires:\t%s (%s left)\n", fmtTime(r.ExpiresAt), timeLeft(r))
	} else if !r.DecidedAt.IsZero() {
		fmt.Fprintf(tw, "Decided:\t%s\n", fmtTime(r.DecidedAt))
	}
	if !r.ExecutedAt.IsZero() {
		fmt.Fprintf(tw, "Executed:\t%s\n", fmtTime(r.ExecutedAt))
	}
	if r.Reason != "" {
		fmt.Fprintf(tw, "Reason:\t%s\n", r.Reason)
	}
	var policies []string
	for _, p := range r.Decision.Matched {
		policies = append(policies, fmt.Sprintf("%s (%s)", p.Name, p.Action))
	}
	if len(policies) == 0 {
		policies = []string{"none (environment default)"}
	}
	fmt.Fprintf(tw, "Policies:\t%s\n", strings.Join(policies, ", "))
	fmt.Fprintf(tw, "Risk:\t%s\n", r.Decision.Risk.Level)
	tw.Flush()

	fmt.Fprintln(w, "Requirements:")
	for _, p := range r.Progress {
		who := strings.Join(p.Approvers, ", ")
		if who == "" {
			who = "anyone but the requester"
		}
		fmt.Fprintf(w, "  %s: %d of %d approvals from %s\n", dash(p.Policy), p.Approved, p.Quorum, who)
	}
	if fs := r.Decision.Risk.Findings; len(fs) > 0 {
		fmt.Fprintln(w, "Findings:")
		for _, f := range fs {
			fmt.Fprintf(w, "  [%s] %s: %s\n", f.Severity, f.Code, f.Message)
			if s, ok := snippet(r.Payload, f); ok {
				fmt.Fprintf(w, "      at %d-%d: >>>%s<<<\n", f.Start, f.End, s)
			}
		}
	}
	fmt.Fprintln(w, "Payload:")
	for _, line := range strings.Split(strings.TrimRight(r.Payload, "\n"), "\n") {
		fmt.Fprintf(w, "  %s\n", line)
	}
	fmt.Fprintln(w, "Votes:")
	if len(r.Votes) == 0 {
		fmt.Fprintln(w, "  none yet")
	}
	for _, v := range r.Votes {
		verb := "approved"
		if !v.Approve {
			verb = "rejected"
		}
		line := fmt.Sprintf("  %s %s at %s", v.Identity, verb, fmtTime(v.At))
		if v.Grant != "" {
			line += " with a grant of " + v.Grant
		}
		if v.Comment != "" {
			line += fmt.Sprintf(": %q", v.Comment)
		}
		fmt.Fprintln(w, line)
	}
}

// snippet returns the part of payload a finding points at, if its offsets
// fall inside the payload on character boundaries.
func snippet(payload string, f qgate.Finding) (string, bool) {
	if f.Start < 0 || f.End <= f.Start || f.End > len(payload) {
		return "", false
	}
	s := payload[f.Start:f.End]
	if !utf8.ValidString(s) {
		return "", false
	}
	return s, true
}

func eventLine(ev web.Event, now time.Time) string {
	r := ev.Review
	return fmt.Sprintf("%s %-15s #%d %-9s %s/%s by %s risk %s left %s: %s", now.Format("15:04:05"), ev.Type, r.ID, r.Status,
		r.Target, dash(r.Environment), r.Requester, r.Decision.Risk.Level, timeLeft(r), oneLine(r.Payload, 60))
}

func progressText(r *web.Review) string {
	var parts []string
	for _, p := range r.Progress {
		parts = append(parts, fmt.Sprintf("%s %d/%d", dash(p.Policy), p.Approved, p.Quorum))
	}
	return strings.Join(parts, ", ")
}

func timeLeft(r *web.Review) string {
	if r.Status != qgate.ReviewPending {
		return "-"
	}
	return age(time.Duration(r.TimeLeftSeconds) * time.Second)
}

// age writes a duration the way people read it at a glance: 45s, 12m,
// 3h, 2d.
func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", max(int(d/time.Second), 0))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	}
	return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
}

// oneLine collapses whitespace and truncates to n characters.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
