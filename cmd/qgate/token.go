package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/auth"
)

func (m *Main) tokenCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Create, list, revoke and rotate API tokens (on the store named by --config)"}
	var file string
	cmd.PersistentFlags().StringVar(&file, "config", "", "configuration file")

	var (
		identity, name               string
		roles, targets, environments []string
		ttl                          time.Duration
		asJSON                       bool
	)
	create := &cobra.Command{
		Use:   "create --identity NAME [--roles r1,r2] [--ttl 24h]",
		Short: "Issue a token; prints the secret once, alone on stdout",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			o, err := openOperator(file)
			if err != nil {
				return err
			}
			defer o.Close()
			for _, t := range targets {
				if o.cfg.Target(t) == nil {
					return usagef("unknown target %q", t)
				}
			}
			ctx := c.Context()
			secret, tok, err := o.auth.Issue(ctx, auth.IssueRequest{Identity: identity, Name: name, Roles: roles,
				Targets: targets, Environments: environments, TTL: ttl})
			if err != nil {
				return err
			}
			if err := o.store.UpsertIdentity(ctx, &qgate.Identity{Name: identity}); err != nil {
				return err
			}
			if err := o.audit(ctx, &qgate.AuditEvent{Type: qgate.AuditToken, Action: "created", TokenID: tok.ID, Identity: identity,
				Data: mustJSON(map[string]any{"by": operatorName(), "name": tok.Name, "roles": tok.Roles, "targets": tok.Targets,
					"environments": tok.Environments, "expires_at": tok.ExpiresAt})}); err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(m.Stdout).Encode(tokenJSON(tok, secret))
			}
			fmt.Fprintln(m.Stdout, secret)
			return nil
		},
	}
	cf := create.Flags()
	cf.StringVar(&identity, "identity", "", "who the token speaks for (a person or a service)")
	cf.StringVar(&name, "name", "", "a label for the token")
	cf.StringSliceVar(&roles, "roles", nil, "roles (comma-separated)")
	cf.StringSliceVar(&targets, "targets", nil, "limit the token to these targets")
	cf.StringSliceVar(&environments, "environments", nil, "limit the token to these environments")
	cf.DurationVar(&ttl, "ttl", 0, "lifetime, e.g. 24h (default: no expiry)")
	cf.BoolVar(&asJSON, "json", false, "print a JSON object with id, secret and details")
	create.MarkFlagRequired("identity")

	var listIdentity string
	var all bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List tokens (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			o, err := openOperator(file)
			if err != nil {
				return err
			}
			defer o.Close()
			toks, err := o.store.ListTokens(c.Context(), qgate.TokenFilter{Identity: listIdentity, IncludeRevoked: all})
			if err != nil {
				return err
			}
			if asJSON {
				out := make([]map[string]any, len(toks))
				for i, t := range toks {
					out[i] = tokenJSON(t, "")
				}
				return json.NewEncoder(m.Stdout).Encode(out)
			}
			w := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tIDENTITY\tNAME\tROLES\tSTATUS\tCREATED\tEXPIRES\tLAST USED")
			now := time.Now()
			for _, t := range toks {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Identity, dash(t.Name), dash(strings.Join(t.Roles, ",")),
					tokenStatus(t, now), fmtTime(t.CreatedAt), fmtTime(t.ExpiresAt), fmtTime(t.LastUsed))
			}
			return w.Flush()
		},
	}
	list.Flags().StringVar(&listIdentity, "identity", "", "only this identity's tokens")
	list.Flags().BoolVar(&all, "all", false, "include revoked tokens")
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")

	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			o, err := openOperator(file)
			if err != nil {
				return err
			}
			defer o.Close()
			if err := o.auth.Revoke(c.Context(), args[0]); err != nil {
				return err
			}
			if err := o.audit(c.Context(), &qgate.AuditEvent{Type: qgate.AuditToken, Action: "revoked", TokenID: args[0],
				Data: mustJSON(map[string]any{"by": operatorName()})}); err != nil {
				return err
			}
			fmt.Fprintf(m.Stderr, "token %s revoked\n", args[0])
			return nil
		},
	}

	var grace time.Duration
	rotate := &cobra.Command{
		Use:   "rotate ID [--grace 1h]",
		Short: "Replace a token's secret; prints the new token alone on stdout",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			o, err := openOperator(file)
			if err != nil {
				return err
			}
			defer o.Close()
			secret, err := o.auth.Rotate(c.Context(), args[0], grace)
			if err != nil {
				return err
			}
			if err := o.audit(c.Context(), &qgate.AuditEvent{Type: qgate.AuditToken, Action: "rotated", TokenID: args[0],
				Data: mustJSON(map[string]any{"by": operatorName(), "grace": grace.String()})}); err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(m.Stdout).Encode(map[string]any{"id": args[0], "secret": secret, "token": secret})
			}
			fmt.Fprintln(m.Stdout, secret)
			return nil
		},
	}
	rotate.Flags().DurationVar(&grace, "grace", 0, "how long the old secret keeps working (default: not at all)")
	rotate.Flags().BoolVar(&asJSON, "json", false, "print a JSON object")

	cmd.AddCommand(create, list, revoke, rotate)
	return cmd
}

func tokenJSON(t *qgate.Token, secret string) map[string]any {
	out := map[string]any{
		"id": t.ID, "name": t.Name, "identity": t.Identity, "roles": nonNilStrings(t.Roles),
		"targets": nonNilStrings(t.Targets), "environments": nonNilStrings(t.Environments),
		"created_at": t.CreatedAt, "status": tokenStatus(t, time.Now()),
	}
	if secret != "" {
		out["secret"] = secret
		out["token"] = secret
	}
	if !t.ExpiresAt.IsZero() {
		out["expires_at"] = t.ExpiresAt
	}
	if !t.RevokedAt.IsZero() {
		out["revoked_at"] = t.RevokedAt
	}
	if !t.LastUsed.IsZero() {
		out["last_used_at"] = t.LastUsed
	}
	return out
}

func tokenStatus(t *qgate.Token, now time.Time) string {
	switch {
	case !t.RevokedAt.IsZero():
		return "revoked"
	case !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt):
		return "expired"
	}
	return "active"
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04")
}
