package pgtest_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/qgate/qgate/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestCreateDB(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.CreateDB(t, pgtest.DSN(t))
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var name string
	if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	if name == "postgres" || len(name) < len("qgate_test_") {
		t.Errorf("current_database() = %q, want a fresh one", name)
	}
}
