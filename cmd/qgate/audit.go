package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/audit"
)

func (m *Main) auditCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "List, verify and export the hash-chained audit log"}
	var file string
	cmd.PersistentFlags().StringVar(&file, "config", "", "configuration file")

	var (
		tokenID, identity, target, decision, typ, since, until string
		limit                                                  int
		asJSON                                                 bool
	)
	filter := func() (qgate.AuditFilter, error) {
		f := qgate.AuditFilter{TokenID: tokenID, Identity: identity, Target: target, Type: typ, Action: decision, Limit: limit}
		var err error
		if f.Since, err = parseSince(since); err != nil {
			return f, usagef("--since: %v", err)
		}
		if f.Until, err = parseSince(until); err != nil {
			return f, usagef("--until: %v", err)
		}
		if decision != "" && f.Type == "" {
			f.Type = qgate.AuditRequest
		}
		return f, nil
	}
	addFilters := func(c *cobra.Command) {
		fl := c.Flags()
		fl.StringVar(&tokenID, "token", "", "only events of this token id")
		fl.StringVar(&identity, "identity", "", "only events of this identity")
		fl.StringVar(&target, "target", "", "only events for this target")
		fl.StringVar(&decision, "decision", "", "only requests with this decision (allow, deny, review)")
		fl.StringVar(&typ, "type", "", "only events of this type (request, execution, review, vote, grant, token, auth, admin)")
		fl.StringVar(&since, "since", "", "only events at or after this time (RFC 3339, or a duration such as 1h meaning that long ago)")
		fl.StringVar(&until, "until", "", "only events before this time (same forms as --since)")
	}

	list := &cobra.Command{
		Use:   "list [filters]",
		Short: "List audit events, newest last",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			f, err := filter()
			if err != nil {
				return err
			}
			o, err := m.openAuditReader(file)
			if err != nil {
				return err
			}
			defer o.Close()
			if f.Limit > 0 {
				f.Desc = true // the newest N, printed oldest first
			}
			events, err := o.store.ListAudit(c.Context(), f)
			if err != nil {
				return err
			}
			if f.Desc {
				for i, j := 0, len(events)-1; i < j; i, j = i+1, j-1 {
					events[i], events[j] = events[j], events[i]
				}
			}
			if asJSON {
				if events == nil {
					events = []*qgate.AuditEvent{}
				}
				return json.NewEncoder(m.Stdout).Encode(events)
			}
			w := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "SEQ\tTIME\tTYPE\tACTION\tIDENTITY\tTARGET\tREVIEW\tDETAIL")
			for _, e := range events {
				review := "-"
				if e.ReviewID != 0 {
					review = fmt.Sprint(e.ReviewID)
				}
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.Time.Local().Format(time.DateTime), e.Type, e.Action,
					dash(e.Identity), dash(e.Target), review, detail(e.Data))
			}
			return w.Flush()
		},
	}
	addFilters(list)
	list.Flags().IntVar(&limit, "limit", 100, "at most this many events (0: all)")
	list.Flags().BoolVar(&asJSON, "json", false, "print a JSON array")

	verify := &cobra.Command{
		Use:   "verify",
		Short: "Recompute the hash chain; names the first broken record",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			o, err := m.openAuditReader(file)
			if err != nil {
				return err
			}
			defer o.Close()
			rep, err := audit.Verify(c.Context(), o.store)
			if err != nil {
				return err
			}
			if asJSON {
				if err := json.NewEncoder(m.Stdout).Encode(rep); err != nil {
					return err
				}
			}
			if !rep.OK {
				if !asJSON {
					fmt.Fprintf(m.Stdout, "audit chain BROKEN at record %d: %s (%d records checked)\n", rep.BrokenSeq, rep.Problem, rep.Events)
				}
				return failure{fmt.Errorf("audit chain broken at record %d", rep.BrokenSeq)}
			}
			if !asJSON {
				fmt.Fprintf(m.Stdout, "audit chain OK: %d records, last %d, head %s\n", rep.Events, rep.LastSeq, rep.LastHash)
			}
			return nil
		},
	}
	verify.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")

	export := &cobra.Command{
		Use:   "export [filters]",
		Short: "Write audit events as JSON lines, oldest first",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			f, err := filter()
			if err != nil {
				return err
			}
			f.Limit = 0
			o, err := m.openAuditReader(file)
			if err != nil {
				return err
			}
			defer o.Close()
			return audit.Export(c.Context(), o.store, m.Stdout, f)
		},
	}
	addFilters(export)
	cmd.AddCommand(list, verify, export)
	return cmd
}

// parseSince accepts RFC 3339 times, dates, and durations meaning "ago".
func parseSince(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, time.DateTime, time.DateOnly} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("want RFC 3339 (2026-01-02T15:04:05Z), a date, or a duration such as 2h, got %q", s)
}

func detail(data json.RawMessage) string {
	s := strings.TrimSpace(string(data))
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return dash(s)
}
