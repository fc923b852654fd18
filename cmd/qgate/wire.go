package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os/user"
	"time"

	"github.com/qgate/qgate"
	pganalyze "github.com/qgate/qgate/analyze/postgres"
	"github.com/qgate/qgate/auth"
	"github.com/qgate/qgate/config"
	"github.com/qgate/qgate/gate"
	"github.com/qgate/qgate/policy"
	"github.com/qgate/qgate/store/sqlite"
)

// newOfflineGate builds a gate without a store: no grants apply.
func newOfflineGate(cfg *config.Config) (*gate.Gate, error) {
	engine, err := policy.New(cfg.Policies, cfg.Defaults, cfg.ReviewDefaults)
	if err != nil {
		return nil, fmt.Errorf("compile policies: %w", err)
	}
	return gate.New(pganalyze.New(pganalyze.Options{}), engine, nil), nil
}

// openStore opens the store named by the configuration.
func openStore(cfg *config.Config) (qgate.Store, error) {
	switch cfg.Store.Driver {
	case "sqlite":
		db, err := sqlite.Open(cfg.Store.DSN)
		if err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
		return db, nil
	}
	return nil, usagef("store driver %q is not available in this build", cfg.Store.Driver)
}

// tokenKey loads the key that token secrets are hashed with.
func tokenKey(cfg *config.Config) ([]byte, error) {
	if cfg.Auth.TokenKeyEnv != "" {
		return auth.KeyFromEnv(cfg.Auth.TokenKeyEnv)
	}
	if cfg.Auth.TokenKeyFile == "" {
		return nil, usagef("auth.token_key_file or auth.token_key_env is required with the %s store", cfg.Store.Driver)
	}
	return auth.LoadOrCreateKey(cfg.Auth.TokenKeyFile)
}

// operator is what the store-side commands (token, audit) share.
type operator struct {
	cfg   *config.Config
	store qgate.Store
	auth  *auth.Authenticator
}

// openAuditReader is openOperator for the audit commands: it first stores
// the audit events that the journal of a stopped qgate serve holds beyond
// the database (calls forwarded just before a crash), so that the
// commands show them (serve would store them when it next starts), and
// says on stderr how many it stored.
func (m *Main) openAuditReader(file string) (*operator, error) {
	o, err := openOperator(file)
	if err != nil {
		return nil, err
	}
	db, ok := o.store.(*sqlite.DB)
	if !ok || db.AuditJournalPath() == "" {
		return o, nil
	}
	n, err := storeAuditJournal(db)
	if n > 0 {
		fmt.Fprintf(m.Stderr, "stored %d audit events from the journal of a qgate serve that stopped before storing them\n", n)
	}
	if err != nil {
		o.Close()
		return nil, err
	}
	return o, nil
}

func openOperator(file string) (*operator, error) {
	cfg, err := loadConfig(file)
	if err != nil {
		return nil, err
	}
	st, key, err := openStoreWithKey(cfg)
	if err != nil {
		return nil, err
	}
	return &operator{cfg: cfg, store: st, auth: auth.New(st, key)}, nil
}

// openStoreWithKey opens the store and loads the token key beside it.
func openStoreWithKey(cfg *config.Config) (qgate.Store, []byte, error) {
	st, err := openStore(cfg)
	if err != nil {
		return nil, nil, err
	}
	key, err := tokenKey(cfg)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, key, nil
}

func (o *operator) Close() error { return o.store.Close() }

// audit appends one administrative event directly (the CLI has no
// batching log; the store serialises appends across processes).
func (o *operator) audit(ctx context.Context, e *qgate.AuditEvent) error {
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	if err := o.store.AppendAudit(ctx, []*qgate.AuditEvent{e}); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// operatorName is who runs an operator command, for the audit log.
func operatorName() string {
	if u, err := user.Current(); err == nil {
		return "os:" + u.Username
	}
	return "os:unknown"
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
