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
	"github.com/qgate/qgate/store/sqlite"
)

// crashEnv names the database the crash child appends to.
const crashEnv = "QGATE_AUDIT_CRASH_DB"

// TestLog_Crash runs a child process that appends through a Log from
// several goroutines and prints every acknowledged event, kills it with
// SIGKILL mid-stream, and checks that the file still holds one valid chain
// containing every acknowledged event.
func TestLog_Crash(t *testing.T) {
	if path := os.Getenv(crashEnv); path != "" {
		crashChild(path)
		return
	}
	if testing.Short() {
		t.Skip("starts a child process")
	}
	const killAfter = 2000

	path := filepath.Join(t.TempDir(), "qgate.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestLog_Crash$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	acked := map[int64]string{} // seq → request id
	killed := false
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		var seq int64
		var id string
		if _, err := fmt.Sscanf(sc.Text(), "ack %d %s", &seq, &id); err != nil {
			continue // the test framework's own output
		}
		acked[seq] = id
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
	rep, err := audit.Verify(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK {
		t.Fatalf("chain broken after the crash: %v", rep)
	}
	stored := map[int64]string{}
	if err := db.ScanAudit(context.Background(), 0, func(e *qgate.AuditEvent) error {
		stored[e.Seq] = e.RequestID
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for seq, id := range acked {
		if stored[seq] != id {
			t.Fatalf("acknowledged seq %d (%s) lost: stored %q", seq, id, stored[seq])
		}
	}
	t.Logf("killed after %d acknowledgements; %d events stored, chain OK", len(acked), rep.Events)
}

// crashChild appends forever (or for a minute, should the parent vanish)
// and prints "ack SEQ ID" for every event Append acknowledged.
func crashChild(path string) {
	db, err := sqlite.Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	l := audit.NewLog(db, audit.LogOptions{})
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
				if err := l.Append(context.Background(), e); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
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
