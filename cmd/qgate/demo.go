package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/auth"
	"github.com/qgate/qgate/config"
	"github.com/qgate/qgate/demo"
	"github.com/qgate/qgate/signin"
	"github.com/qgate/qgate/store/sqlite"
)

func (m *Main) demoCommand() *cobra.Command {
	var dir, listen, apiListen, pgDSN, pgListen string
	var verbose bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run qgate in front of a sample API and print the commands that show the approval loop",
		Long: `Run qgate on the embedded SQLite store in front of a small sample HTTP API
(started in this process), create a requester token and an approver token,
and print three commands: a read that passes, a delete that waits for
approval, and the approval that releases it.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if dir == "" {
				d, err := os.MkdirTemp("", "qgate-demo-")
				if err != nil {
					return err
				}
				dir = d
			} else if err := os.MkdirAll(dir, 0o700); err != nil {
				return err
			}
			api := demo.NewSampleAPI()
			upLn, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return err
			}
			upstream := &http.Server{Handler: api.Handler()}
			go upstream.Serve(upLn)
			defer upstream.Close()

			var pg *demo.Postgres
			if pgDSN != "" {
				if pg, err = demoPostgres(c.Context(), pgDSN, pgListen); err != nil {
					return err
				}
			}
			cfgPath := filepath.Join(dir, "qgate.yaml")
			doc := demo.Config(dir, listen, apiListen, "http://"+upLn.Addr().String(), pg)
			if err := os.WriteFile(cfgPath, []byte(doc), 0o600); err != nil {
				return err
			}
			cfg, err := config.Load(cfgPath)
			if err != nil {
				return err
			}
			level := slog.LevelWarn
			if verbose {
				level = slog.LevelInfo
			}
			s, err := NewServer(cfg, slog.New(slog.NewTextHandler(m.Stderr, &slog.HandlerOptions{Level: level})))
			if err != nil {
				return err
			}
			ctx := c.Context()
			requester, _, err := s.Auth.Issue(ctx, auth.IssueRequest{Identity: "dana", Name: "demo requester", Roles: []string{"developer"}})
			if err != nil {
				s.Close()
				return err
			}
			requesterID, _, _ := auth.Parse(requester)
			approver, _, err := s.Auth.Issue(ctx, auth.IssueRequest{Identity: "alice", Name: "demo approver", Roles: []string{"approver"}})
			if err != nil {
				s.Close()
				return err
			}
			// The approver signs in to the web UI as a local user.
			webPassword := rand.Text()[:16]
			users := signin.NewUsers(s.Store)
			if _, err := users.Add(ctx, "alice", "", webPassword); err != nil {
				if qgate.ErrorCode(err) != qgate.ECONFLICT {
					s.Close()
					return err
				}
				if _, err := users.SetPassword(ctx, "alice", webPassword); err != nil { // a reused --dir
					s.Close()
					return err
				}
			}
			if err := s.Start(ctx); err != nil {
				s.Close()
				return err
			}
			if err := s.Audit.Append(ctx, &qgate.AuditEvent{Type: qgate.AuditUser, Action: "created", Identity: "alice",
				Data: mustJSON(map[string]any{"by": "qgate demo"})}); err != nil {
				s.Close()
				return err
			}
			self, err := os.Executable()
			if err != nil || strings.Contains(self, "go-build") {
				self = "qgate"
			}
			api1 := "http://" + s.Addr("sample-api")
			fmt.Fprintf(m.Stdout, `qgate demo is running (store and config in %s).
  web UI:                  %s/   (sign in as alice, password %s)
  REST API:                %s
  sample API behind qgate: %s   (tokens: dana asks, alice approves)

1. A read passes:
   curl -s -H 'Authorization: Bearer %s' %s/v1/items

2. A delete waits for approval (it holds for up to 25 s, then answers 202 with the review id):
   curl -s -X DELETE -H 'Authorization: Bearer %s' %s/v1/items/1

3. Release it (the waiting curl completes at once): in the web UI's inbox, open the
   review and click Approve; or in another terminal:
   export QGATE_SERVER=%s QGATE_TOKEN=%s
   %s reviews list
   %s reviews approve 1 --comment 'ok for the demo'

Also try: %s reviews watch   |   %s audit verify --config %s
`, dir, s.URL(), webPassword, s.URL(), api1, requester, api1, requester, api1, s.URL(), approver, self, self, self, self, cfgPath)
			if pg != nil {
				host, port, _ := net.SplitHostPort(s.Addr("demo-db"))
				conn := fmt.Sprintf("host=%s port=%s user=%s dbname=demo sslmode=disable", host, port, requesterID)
				fmt.Fprintf(m.Stdout, `
PostgreSQL (any client; the user is the token's id, the password the token):
4. A read passes:
   PGPASSWORD='%s' psql '%s' -c 'SELECT * FROM demo_items'
5. A DELETE waits; psql shows "NOTICE: waiting for approval: review N, ...":
   PGPASSWORD='%s' psql '%s' -c 'DELETE FROM demo_items WHERE id = 1'
6. Approve it in the web UI or as in step 3 (%s reviews approve N); psql prints DELETE 1.
`, requester, conn, requester, conn, self)
			}
			fmt.Fprintln(m.Stdout, "Press Ctrl-C to stop.")
			<-ctx.Done()
			fmt.Fprintln(m.Stderr, "stopping qgate demo")
			journalPath := ""
			if db, ok := s.Store.(*sqlite.DB); ok {
				journalPath = db.AuditJournalPath()
			}
			if err := s.Close(); err != nil || journalPath == "" {
				return err
			}
			// The directory stays for a look afterwards; its 64 MiB audit
			// journal need not, once a clean stop left nothing in it.
			return removeEmptyAuditJournal(journalPath)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "where to keep the demo's store and config (default: a new temporary directory)")
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8080", "REST API address")
	cmd.Flags().StringVar(&apiListen, "api-listen", "127.0.0.1:9001", "address of the sample API's qgate listener")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "log every request")
	cmd.Flags().StringVar(&pgDSN, "postgres", "", "also put this PostgreSQL server behind qgate (a connection string; make demo-pg starts a throwaway one)")
	cmd.Flags().StringVar(&pgListen, "postgres-listen", "127.0.0.1:6432", "address of qgate's PostgreSQL listener")
	return cmd
}

// demoPostgres prepares a small table on the server of dsn and describes
// it as a demo target. The password goes through an environment variable,
// as configuration files never hold secrets.
func demoPostgres(ctx context.Context, dsn, listen string) (*demo.Postgres, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, usagef("--postgres: %v", err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to the demo's PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS demo_items (id int PRIMARY KEY, name text NOT NULL);
		INSERT INTO demo_items VALUES (1, 'invoice-2026-001'), (2, 'invoice-2026-002'), (3, 'invoice-2026-003') ON CONFLICT DO NOTHING`); err != nil {
		return nil, fmt.Errorf("prepare the demo table: %w", err)
	}
	os.Setenv("QGATE_DEMO_PG_PASSWORD", cfg.Password)
	return &demo.Postgres{Address: net.JoinHostPort(cfg.Host, fmt.Sprint(cfg.Port)), Database: cfg.Database, User: cfg.User,
		PasswordEnv: "QGATE_DEMO_PG_PASSWORD", Listen: listen}, nil
}
