package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/audit"
)

func (m *Main) serveCommand() *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "serve --config FILE",
		Short: "Run the server: the REST API and the target listeners",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			s, err := newServer(file, m)
			if err != nil {
				return err
			}
			return s.Run(c.Context())
		},
	}
	cmd.Flags().StringVar(&file, "config", "", "configuration file")
	return cmd
}

// server is the running qgate process: store, audit log, gate and the
// listeners.
type server struct {
	op     *operator
	log    *audit.Log
	logger *slog.Logger
	ln     net.Listener
	http   *http.Server
}

func newServer(file string, m *Main) (*server, error) {
	op, err := openOperator(file)
	if err != nil {
		return nil, err
	}
	logger := slog.New(slog.NewTextHandler(m.Stderr, nil))
	if _, err := newOfflineGate(op.cfg); err != nil {
		op.Close()
		return nil, err
	}
	s := &server{op: op, logger: logger, log: audit.NewLog(op.store, audit.LogOptions{Logger: logger})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.health)
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return s, nil
}

func (s *server) health(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"status": "ok", "targets": len(s.op.cfg.Targets)})
}

// Run serves until ctx ends, then shuts down gracefully.
func (s *server) Run(ctx context.Context) error {
	defer s.op.Close()
	defer s.log.Close()
	ln, err := net.Listen("tcp", s.op.cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.op.cfg.Server.Listen, err)
	}
	s.ln = ln
	s.logger.Info("qgate serving", "api", "http://"+ln.Addr().String(), "public_url", s.op.cfg.Server.PublicURL, "store", s.op.cfg.Store.Driver)
	if err := s.log.Append(ctx, &qgate.AuditEvent{Time: time.Now().UTC(), Type: qgate.AuditAdmin, Action: "started",
		Data: mustJSON(map[string]any{"config": s.op.cfg.File, "targets": len(s.op.cfg.Targets)})}); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.http.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.http.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	s.logger.Info("qgate stopped")
	return nil
}
