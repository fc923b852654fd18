package sqlite

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestTokenSignal_OneReaderAtATime: when the version is only due for a
// look, a caller that finds another one reading the file answers with the
// version read before; a change this process announced is never answered
// that way.
func TestTokenSignal_OneReaderAtATime(t *testing.T) {
	path := filepath.Join(t.TempDir(), "qgate.db-tokens")
	s := &tokenSignal{path: path}
	defer s.close()
	v0, ok := s.version()
	if !ok || v0 != 2 {
		t.Fatalf("version of a new file = %d, %v; want 2, true", v0, ok)
	}
	if err := os.WriteFile(path, []byte("\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(TokenVersionRecheck)

	s.reading.Store(true) // another caller is reading the file
	if v, _ := s.version(); v != v0 {
		t.Fatalf("version while another caller reads = %d, want the one read before, %d", v, v0)
	}
	s.changed() // this process announced a change: read at once
	if v, _ := s.version(); v != v0+1 {
		t.Fatalf("version after this process's change = %d, want %d", v, v0+1)
	}
	s.reading.Store(false)

	if err := os.WriteFile(path, []byte("\n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(TokenVersionRecheck)
	if v, _ := s.version(); v != v0+2 {
		t.Fatalf("version after the recheck time = %d, want %d", v, v0+2)
	}
	if s.reading.Load() {
		t.Fatal("the reader did not clear its mark")
	}
}
