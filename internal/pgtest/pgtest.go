// Package pgtest gives tests a real PostgreSQL server.
//
// When QGATE_TEST_POSTGRES holds a connection string (a superuser's), tests
// use that server. Otherwise the first call to DSN starts a throwaway one
// with scripts/pg-start.sh (Debian's postgresql package), shared by every
// test of the binary and stopped by Main when the tests end. A missing
// PostgreSQL installation fails the tests with the command to install it:
// tests that need a server are never skipped.
//
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
package pgtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvDSN names the environment variable that points tests at an existing
// server.
const EnvDSN = "QGATE_TEST_POSTGRES"

var (
	once     sync.Once
	dsn      string
	dir      string // set when this process started the server
	startErr error
)

// Main runs the tests and stops the server that DSN started, if any.
func Main(m *testing.M) {
	code := m.Run()
	Stop()
	os.Exit(code)
}

// Stop stops the server that DSN started, if any. Main calls it.
func Stop() {
	if dir == "" {
		return
	}
	cmd := exec.Command("bash", filepath.Join(scriptsDir(), "pg-stop.sh"), dir)
	cmd.Stderr = os.Stderr
	_ = cmd.Run()
	dir = ""
}

// DSN returns the connection string of a superuser on a real PostgreSQL
// server: QGATE_TEST_POSTGRES, or a throwaway server started once per test
// binary, which stops when the binary ends (even when it is killed). It
// fails tb when no server can be had.
func DSN(tb testing.TB) string {
	tb.Helper()
	once.Do(start)
	if startErr != nil {
		tb.Fatalf("pgtest: no PostgreSQL server for the tests: %v\n"+
			"Install Debian's postgresql package (apt-get install postgresql; .ci/run does it) "+
			"or set %s to a superuser's connection string.", startErr, EnvDSN)
	}
	return dsn
}

func start() {
	if v := os.Getenv(EnvDSN); v != "" {
		dsn = v
		return
	}
	var out, errOut bytes.Buffer
	// The server must not inherit this process's descriptors: a fuzzing
	// worker's pipes to its coordinator are not close-on-exec, and a
	// server holding them makes the coordinator wait for it forever
	// when it stops the worker.
	closeOnExec()
	cmd := exec.Command("bash", filepath.Join(scriptsDir(), "pg-start.sh"))
	cmd.Stdout, cmd.Stderr = &out, &errOut
	// The server stops when this process ends, however it ends.
	cmd.Env = append(os.Environ(), fmt.Sprintf("PG_OWNER_PID=%d", os.Getpid()))
	if err := cmd.Run(); err != nil {
		startErr = fmt.Errorf("scripts/pg-start.sh: %v: %s", err, strings.TrimSpace(errOut.String()))
		return
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		startErr = fmt.Errorf("scripts/pg-start.sh printed %q, want a DSN and a directory", out.String())
		return
	}
	dsn, dir = lines[0], lines[1]
}

// closeOnExec marks every descriptor above stderr close-on-exec, so that
// no child process inherits it. Go opens its own that way; inherited ones
// (the fuzzing engine's pipes) are not.
func closeOnExec() {
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return // not Linux: nothing to do that is portable
	}
	for _, f := range fds {
		if fd, err := strconv.Atoi(f.Name()); err == nil && fd > 2 {
			syscall.CloseOnExec(fd)
		}
	}
}

// scriptsDir is the repository's scripts directory, found from this file.
func scriptsDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "scripts")
}

// CreateDB creates a fresh database on the server of dsn and returns the
// connection string of the same user on it. The database is dropped when
// the test ends.
func CreateDB(tb testing.TB, dsn string) string {
	tb.Helper()
	var b [6]byte
	rand.Read(b[:])
	name := "qgate_test_" + hex.EncodeToString(b[:])
	exec := func(sql string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := exec("CREATE DATABASE " + name); err != nil {
		tb.Fatalf("pgtest: create database: %v", err)
	}
	tb.Cleanup(func() {
		if err := exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			tb.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		tb.Fatalf("pgtest: CreateDB needs a URL connection string (postgres://...), got one that does not parse as a URL")
	}
	u.Path = "/" + name
	return u.String()
}
