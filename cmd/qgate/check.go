package main

import (
	"encoding/json"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/config"
	"github.com/qgate/qgate/gate"
)

func (m *Main) checkCommand() *cobra.Command {
	var (
		file, target, identity, sql, method, path, body string
		roles, headers                                  []string
	)
	cmd := &cobra.Command{
		Use:   "check --config FILE --target NAME (--sql TEXT | --method M --path P [--header 'K: V']... [--body TEXT])",
		Short: "Evaluate one request offline and print the decision as JSON",
		Long: `Evaluate one request against the policies in a configuration file, exactly
as the gateway would, and print one JSON object with the decision, the
matched policies, the risk and the analysed sql or http object.

Exit status is 0 whenever the request was evaluated, whatever the decision;
2 on bad input or configuration. --sql - reads the SQL from standard input.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := loadConfig(file)
			if err != nil {
				return err
			}
			hasSQL := c.Flags().Changed("sql")
			hasHTTP := c.Flags().Changed("method") || c.Flags().Changed("path")
			if hasSQL == hasHTTP {
				return usagef("give either --sql or --method and --path")
			}
			if hasSQL && sql == "-" {
				b, err := io.ReadAll(m.Stdin)
				if err != nil {
					return err
				}
				sql = string(b)
			}
			g, err := newOfflineGate(cfg)
			if err != nil {
				return err
			}
			t := cfg.Target(target)
			if t == nil {
				return usagef("unknown target %q (known: %s)", target, targetNames(cfg))
			}
			in := gate.Input{Target: t, Principal: offlinePrincipal(cfg, identity, roles), SQL: sql}
			if hasHTTP {
				in.Method, in.Path, in.Headers, in.Body = strings.ToUpper(method), path, headers, body
			}
			req, d, err := g.Evaluate(c.Context(), in)
			if err != nil {
				return err
			}
			enc := json.NewEncoder(m.Stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(gate.Report(req, d))
		},
	}
	f := cmd.Flags()
	f.StringVar(&file, "config", "", "configuration file")
	f.StringVar(&target, "target", "", "target name")
	f.StringSliceVar(&roles, "roles", nil, "the token's roles (comma-separated)")
	f.StringVar(&identity, "identity", "check", "the identity the token speaks for")
	f.StringVar(&sql, "sql", "", "SQL text ('-' reads standard input)")
	f.StringVar(&method, "method", "GET", "HTTP method")
	f.StringVar(&path, "path", "", "HTTP path with query string")
	f.StringArrayVar(&headers, "header", nil, "HTTP header 'Name: value' (repeatable)")
	f.StringVar(&body, "body", "", "HTTP request body")
	cmd.MarkFlagRequired("target")
	return cmd
}

func targetNames(cfg *config.Config) string {
	names := make([]string, len(cfg.Targets))
	for i, t := range cfg.Targets {
		names[i] = t.Name
	}
	return strings.Join(names, ", ")
}

func offlinePrincipal(cfg *config.Config, identity string, roles []string) qgate.Principal {
	groups := cfg.GroupsOf(identity)
	if groups == nil {
		groups = []string{}
	}
	if roles == nil {
		roles = []string{}
	}
	return qgate.Principal{TokenID: "offline", TokenName: "qgate check", Identity: identity, Roles: roles, Groups: groups}
}
