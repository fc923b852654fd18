//go:build unix

package audit_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/audit"
	"github.com/qgate/qgate/audit/journal"
	"github.com/qgate/qgate/store/sqlite"
)

// crashEnv names the database the crash child appends to.
const crashEnv = "QGATE_AUDIT_CRASH_DB"

// crashModeEnv says how the crash child appends: "" with Append, "journal"
// with AppendAllowed through a journal.
const crashModeEnv = "QGATE_AUDIT_CRASH_MODE"

// crashJournalSize is the crash child's journal: small, so that it
// rewinds many times before the kill.
const crashJournalSize = 256 << 10

// TestLog_Crash runs a child process that appends through a Log from
// several goroutines and prints every acknowledged event, kills it with
// SIGKILL mid-stream, and checks that the file still holds one valid chain
// containing every acknowledged event.
func TestLog_Crash(t *testing.T) {
	if path := os.Getenv(crashEnv); path != "" {
		crashChild(path, os.Getenv(crashModeEnv))
		return
	}
	testCrash(t, "TestLog_Crash", "")
}

// TestLog_CrashJournal is TestLog_Crash for AppendAllowed under
// DurabilitySync with a journal: an acknowledged event may not be in the
// store when the process dies, but must be once the journal is replayed,
// exactly once.
func TestLog_CrashJournal(t *testing.T) {
	if path := os.Getenv(crashEnv); path != "" {
		crashChild(path, os.Getenv(crashModeEnv))
		return
	}
	testCrash(t, "TestLog_CrashJournal", "journal")
}

func testCrash(t *testing.T, name, mode string) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	const killAfter = 2000

	path := filepath.Join(t.TempDir(), "qgate.db")
	cmd := exec.Command(os.Args[0], "-test.run=^"+name+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+path, crashModeEnv+"="+mode)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	acked := map[string]int64{} // request id → seq (0: journaled, not known)
	killed := false
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		var seq int64
		var id string
		if _, err := fmt.Sscanf(sc.Text(), "ack %d %s", &seq, &id); err != nil {
			continue // the test framework's own output
		}
		acked[id] = seq
		if len(acked) == killAfter && !killed {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	// Lines read after the kill were written before it: still acknowledged.
	err = cmd.Wait()
	if !killed {
		t.Fatalf("child ended after %d acknowledgements (%v): %s", len(acked), err, stderr.String())
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child was not killed by SIGKILL: %v", cmd.ProcessState)
	}

	db, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n := 0
	if mode == "journal" {
		n = replayed(t, db, crashJournalSize)
	}
	rep, err := audit.Verify(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK {
		t.Fatalf("chain broken after the crash: %v", rep)
	}
	stored := map[string]int64{}
	if err := db.ScanAudit(context.Background(), 0, func(e *qgate.AuditEvent) error {
		if _, dup := stored[e.RequestID]; dup {
			return fmt.Errorf("request %s stored twice (seq %d and %d)", e.RequestID, stored[e.RequestID], e.Seq)
		}
		stored[e.RequestID] = e.Seq
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for id, seq := range acked {
		got, ok := stored[id]
		if !ok || (seq != 0 && got != seq) {
			t.Fatalf("acknowledged %s (seq %d) lost: stored %v at %d", id, seq, ok, got)
		}
	}
	t.Logf("killed after %d acknowledgements; %d events stored (%d replayed from the journal), chain OK",
		len(acked), rep.Events, n)
}

// crashChild appends forever (or for a minute, should the parent vanish)
// and prints "ack SEQ ID" for every event acknowledged: by Append, or,
// in journal mode, by AppendAllowed (SEQ 0).
func crashChild(path, mode string) {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	db, err := sqlite.Open(path)
	if err != nil {
		fail(err)
	}
	opts := audit.LogOptions{}
	if mode == "journal" {
		j, err := journal.Open(db.AuditJournalPath(), crashJournalSize)
		if err != nil {
			fail(err)
		}
		if _, err := audit.ReplayJournal(context.Background(), db, j); err != nil {
			fail(err)
		}
		opts.Journal = j
	}
	l := audit.NewLog(db, opts)
	var out sync.Mutex
	deadline := time.Now().Add(time.Minute)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline); i++ {
				id := fmt.Sprintf("w%d-%d", w, i)
				e := &qgate.AuditEvent{Type: qgate.AuditRequest, Action: "allow", RequestID: id,
					Data: []byte(`{"pad":"` + strings.Repeat("x", 200) + `"}`)}
				var err error
				if mode == "journal" {
					err = l.AppendAllowed(context.Background(), e)
				} else {
					err = l.Append(context.Background(), e)
				}
				if err != nil {
					fail(err)
				}
				out.Lock()
				fmt.Fprintf(os.Stdout, "ack %d %s\n", e.Seq, id)
				out.Unlock()
			}
		}()
	}
	wg.Wait()
	os.Exit(3)
}
