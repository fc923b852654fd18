//go:build unix

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/audit/journal"
	"github.com/qgate/qgate/internal/syncbuf"
	"github.com/qgate/qgate/store/sqlite"
)

// serveChildEnv names the configuration a re-executed test binary serves
// (TestServe_CrashKeepsForwardedCalls).
const serveChildEnv = "QGATE_TEST_SERVE_CONFIG"

// TestServe_CrashKeepsForwardedCalls runs the real qgate serve in a child
// process (durability sync, so with the audit journal), sends it
// concurrent allowed calls and kills it with SIGKILL mid-stream, three
// times; what the journal held is stored by the next start, by a start
// with durability async, and by audit verify. Every call whose response
// came back (so was forwarded) must then have its request event in the
// audit log, exactly once, and the chain must verify.
func TestServe_CrashKeepsForwardedCalls(t *testing.T) {
	if cfg := os.Getenv(serveChildEnv); cfg != "" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM) // as main does
		code := Run(ctx, []string{"serve", "--config", cfg}, strings.NewReader(""), os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	if testing.Short() {
		t.Skip("starts child processes")
	}
	var upstreamCalls atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		upstreamCalls.Add(1)
		io.WriteString(w, `{"ok":true}`)
	}))
	defer up.Close()

	dir := t.TempDir()
	target, api := freePort(t), freePort(t)
	cfg := filepath.Join(dir, "qgate.yaml")
	configure := func(durability string) {
		doc := fmt.Sprintf(`store: {driver: sqlite, dsn: %s}
server: {listen: %s}
audit: {durability: %s}
targets:
  - name: api
    protocol: http
    environment: staging
    listen: %s
    upstream: {url: %s}
policies:
  - {name: reads, when: "http.method == 'GET'", action: allow}
defaults: {staging: deny}
`, filepath.Join(dir, "qgate.db"), api, durability, target, up.URL)
		if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	configure("sync")
	out, errOut, code := run(t, "", "token", "create", "--config", cfg, "--identity", "bench", "--roles", "reader")
	if code != 0 {
		t.Fatalf("token create: %s", errOut)
	}
	token := strings.TrimSpace(out)

	start := func() (*exec.Cmd, *syncbuf.Buffer) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestServe_CrashKeepsForwardedCalls$", "-test.count=1")
		cmd.Env = append(os.Environ(), serveChildEnv+"="+cfg)
		logs := &syncbuf.Buffer{}
		cmd.Stdout, cmd.Stderr = logs, logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			if c, err := net.Dial("tcp", target); err == nil {
				c.Close()
				return cmd, logs
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("qgate serve did not listen: %s", logs.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	forwarded := map[string]bool{} // request ids of calls answered 200
	// hammer sends calls from 16 clients until killAfter more were
	// answered, then kills cmd with SIGKILL.
	hammer := func(cmd *exec.Cmd, logs *syncbuf.Buffer, killAfter int) {
		var mu sync.Mutex
		goal := len(forwarded) + killAfter
		var wg sync.WaitGroup
		stop := make(chan struct{})
		var once sync.Once
		for w := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					req, _ := http.NewRequest("GET", fmt.Sprintf("http://%s/items/%d-%d-%d", target, goal, w, i), nil)
					req.Header.Set("Authorization", "Bearer "+token)
					res, err := client.Do(req)
					if err != nil {
						return // killed
					}
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != http.StatusOK {
						t.Errorf("status %d", res.StatusCode)
						return
					}
					mu.Lock()
					forwarded[res.Header.Get("Qgate-Request-Id")] = true
					n := len(forwarded)
					mu.Unlock()
					if n >= goal {
						once.Do(func() {
							cmd.Process.Signal(syscall.SIGKILL)
							close(stop)
						})
					}
				}
			}()
		}
		wg.Wait()
		cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("qgate serve was not killed: %v\n%s", cmd.ProcessState, logs.String())
		}
		client.CloseIdleConnections()
	}

	// checkStored: every call answered so far has exactly one request
	// event in the database.
	checkStored := func(after string) {
		t.Helper()
		db, err := sqlite.Open(filepath.Join(dir, "qgate.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		seen := map[string]int{}
		if err := db.ScanAudit(context.Background(), 0, func(e *qgate.AuditEvent) error {
			if e.Type == qgate.AuditRequest {
				seen[e.RequestID]++
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		for id := range forwarded {
			if seen[id] != 1 {
				t.Fatalf("%s: forwarded call %s has %d request events, want 1", after, id, seen[id])
			}
		}
		t.Logf("%s: %d calls answered, %d reached the upstream, %d request events stored",
			after, len(forwarded), upstreamCalls.Load(), len(seen))
	}
	// replayed tells whether a start or a command stored events from the
	// journal. Whether any were left depends on the moment of the kill,
	// so it is logged, not required; checkStored is what must hold.
	replayed := func(what, logs string) {
		if !strings.Contains(logs, "audit journal replayed") && !strings.Contains(logs, "from the journal") {
			t.Logf("%s stored nothing from the journal (every event was committed before the kill)", what)
		}
	}

	// First crash: the restarted serve stores what the journal holds
	// before it listens.
	cmd, logs := start()
	hammer(cmd, logs, 1500)
	cmd, logs = start()
	replayed("the restart", logs.String())
	// Second crash: a start with audit.durability async, which uses no
	// journal, still stores what the last one left.
	hammer(cmd, logs, 1500)
	if _, err := os.Stat(filepath.Join(dir, "qgate.db-audit-journal")); err != nil {
		t.Fatalf("no audit journal beside the database: %v", err)
	}
	configure("async")
	cmd, logs = start()
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("async start: %v\n%s", err, logs.String())
	}
	replayed("the async start", logs.String())
	checkStored("after an async start")
	// Third crash: this time the audit commands store it.
	configure("sync")
	cmd, logs = start()
	hammer(cmd, logs, 1500)
	out, errOut, code = run(t, "", "audit", "verify", "--config", cfg)
	if code != 0 {
		t.Fatalf("audit verify: %s%s", out, errOut)
	}
	replayed("audit verify", errOut)
	checkStored("after audit verify")
	// A journal that was stored is cleared: the next start replays nothing.
	cmd, logs = start()
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil || strings.Contains(logs.String(), "audit journal replayed") {
		t.Fatalf("start after audit verify: %v\n%s", err, logs.String())
	}
}

// freePort returns a loopback address nothing listens on right now.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestRemoveEmptyAuditJournal: qgate demo deletes its audit journal on
// the way out only when nothing in it is left to replay and no process
// holds it.
func TestRemoveEmptyAuditJournal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "qgate.db-audit-journal")
	if err := removeEmptyAuditJournal(path); err != nil {
		t.Fatalf("no journal: %v", err)
	}
	j, err := journal.Open(path, journal.MinSize)
	if err != nil {
		t.Fatal(err)
	}
	j.Start(1)
	if _, err := j.Append([][]byte{[]byte("pending")}); err != nil {
		t.Fatal(err)
	}
	if err := removeEmptyAuditJournal(path); err != nil { // locked: left alone
		t.Fatal(err)
	}
	j.Close()
	if err := removeEmptyAuditJournal(path); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("a journal with an entry to replay was removed: %v", err)
	}
	j, err = journal.Open(path, journal.MinSize)
	if err != nil {
		t.Fatal(err)
	}
	j.Start(2)
	if err := j.Clear(); err != nil {
		t.Fatal(err)
	}
	j.Close()
	if err := removeEmptyAuditJournal(path); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("an empty journal was kept: %v", err)
	}
}
