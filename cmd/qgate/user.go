package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/signin"
)

func (m *Main) userCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Add, list and disable the web UI's local users (on the store named by --config)"}
	var file string
	cmd.PersistentFlags().StringVar(&file, "config", "", "configuration file")

	var email string
	var passwordStdin, asJSON bool
	add := &cobra.Command{
		Use:   "add NAME [--email E] --password-stdin",
		Short: "Create a local user; the password is read from the first line of stdin",
		Long: "Create a local user of the web UI. NAME is an identity name: the user's groups are those the\n" +
			"configuration's groups: section gives NAME. The password (at least 12 characters) is read from\n" +
			"the first line of stdin and never echoed, e.g.\n\n  printf '%s\\n' \"$PW\" | qgate user add alice --config qgate.yaml --password-stdin",
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			pw, err := m.readPassword(passwordStdin)
			if err != nil {
				return err
			}
			o, err := openOperator(file)
			if err != nil {
				return err
			}
			defer o.Close()
			u, err := signin.NewUsers(o.store).Add(c.Context(), args[0], email, pw)
			if err != nil {
				return err
			}
			if err := o.audit(c.Context(), &qgate.AuditEvent{Type: qgate.AuditUser, Action: "created", Identity: u.Name,
				Data: mustJSON(map[string]any{"by": operatorName(), "email": u.Email})}); err != nil {
				return err
			}
			groups := o.cfg.GroupsOf(u.Name)
			fmt.Fprintf(m.Stderr, "user %s added (groups: %s)\n", u.Name, dash(strings.Join(groups, ",")))
			return nil
		},
	}
	add.Flags().StringVar(&email, "email", "", "the user's e-mail address")
	add.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from stdin (required)")

	list := &cobra.Command{
		Use:   "list [--json]",
		Short: "List local users (never their password hashes)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			o, err := openOperator(file)
			if err != nil {
				return err
			}
			defer o.Close()
			us, err := o.store.ListUsers(c.Context())
			if err != nil {
				return err
			}
			if asJSON {
				out := make([]map[string]any, len(us))
				for i, u := range us {
					out[i] = userJSON(u, o.cfg.GroupsOf(u.Name))
				}
				return json.NewEncoder(m.Stdout).Encode(out)
			}
			w := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tEMAIL\tGROUPS\tSTATUS\tCREATED\tPASSWORD CHANGED")
			for _, u := range us {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", u.Name, dash(u.Email), dash(strings.Join(o.cfg.GroupsOf(u.Name), ",")),
					userStatus(u), fmtTime(u.CreatedAt), fmtTime(u.UpdatedAt))
			}
			return w.Flush()
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")

	passwd := &cobra.Command{
		Use:   "passwd NAME --password-stdin",
		Short: "Set a local user's password, read from the first line of stdin",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			pw, err := m.readPassword(passwordStdin)
			if err != nil {
				return err
			}
			o, err := openOperator(file)
			if err != nil {
				return err
			}
			defer o.Close()
			signedOut, err := signin.NewUsers(o.store).SetPassword(c.Context(), args[0], pw)
			if err != nil {
				return err
			}
			if err := o.audit(c.Context(), &qgate.AuditEvent{Type: qgate.AuditUser, Action: "password_changed", Identity: args[0],
				Data: mustJSON(map[string]any{"by": operatorName(), "sessions_revoked": signedOut})}); err != nil {
				return err
			}
			fmt.Fprintf(m.Stderr, "password of %s changed; %d web session(s) signed out\n", args[0], signedOut)
			return nil
		},
	}
	passwd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from stdin (required)")

	disable := &cobra.Command{
		Use:   "disable NAME",
		Short: "Stop a local user from signing in and revoke their web sessions at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			o, err := openOperator(file)
			if err != nil {
				return err
			}
			defer o.Close()
			n, err := signin.NewUsers(o.store).Disable(c.Context(), args[0])
			if err != nil {
				return err
			}
			if err := o.audit(c.Context(), &qgate.AuditEvent{Type: qgate.AuditUser, Action: "disabled", Identity: args[0],
				Data: mustJSON(map[string]any{"by": operatorName(), "sessions_revoked": n})}); err != nil {
				return err
			}
			fmt.Fprintf(m.Stderr, "user %s disabled; %d session(s) revoked\n", args[0], n)
			return nil
		},
	}

	cmd.AddCommand(add, list, passwd, disable)
	return cmd
}

// readPassword reads a password from the first line of stdin. It is never
// echoed or logged.
func (m *Main) readPassword(fromStdin bool) (string, error) {
	if !fromStdin {
		return "", usagef("--password-stdin is required: pipe the password in (passwords are never taken as arguments, which other users can see)")
	}
	line, err := bufio.NewReader(io.LimitReader(m.Stdin, signin.MaxPasswordLength+2)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the password from stdin: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if err := signin.CheckPassword(line); err != nil {
		return "", err
	}
	return line, nil
}

func userJSON(u *qgate.User, groups []string) map[string]any {
	out := map[string]any{"name": u.Name, "email": u.Email, "groups": nonNilStrings(groups), "status": userStatus(u),
		"created_at": u.CreatedAt}
	if !u.UpdatedAt.IsZero() {
		out["updated_at"] = u.UpdatedAt
	}
	if !u.DisabledAt.IsZero() {
		out["disabled_at"] = u.DisabledAt
	}
	return out
}

func userStatus(u *qgate.User) string {
	if u.Disabled() {
		return "disabled"
	}
	return "active"
}
