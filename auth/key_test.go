package auth

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestLoadOrCreateKey(t *testing.T) {
	t.Run("CreatesWithMode0600", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "sub", "qgate.key")
		key, err := LoadOrCreateKey(path)
		if err != nil {
			t.Fatalf("LoadOrCreateKey: %v", err)
		}
		if got, want := len(key), 32; got != want {
			t.Fatalf("key length: got %d, want %d", got, want)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if runtime.GOOS != "windows" {
			if got, want := fi.Mode().Perm(), os.FileMode(0o600); got != want {
				t.Errorf("mode: got %#o, want %#o", got, want)
			}
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := string(b), hex.EncodeToString(key)+"\n"; got != want {
			t.Errorf("file content: got %q, want %q", got, want)
		}
		again, err := LoadOrCreateKey(path)
		if err != nil {
			t.Fatalf("second LoadOrCreateKey: %v", err)
		}
		if !bytes.Equal(again, key) {
			t.Errorf("second LoadOrCreateKey returned a different key")
		}
	})
	t.Run("ReadsExisting", func(t *testing.T) {
		want := bytes.Repeat([]byte{0xab}, 48)
		path := writeKeyFile(t, "  "+hex.EncodeToString(want)+"\r\n", 0o600)
		got, err := LoadOrCreateKey(path)
		if err != nil {
			t.Fatalf("LoadOrCreateKey: %v", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("key: got %x, want %x", got, want)
		}
	})
	if runtime.GOOS == "windows" {
		return
	}
	refused := []struct {
		name    string
		content string
		mode    os.FileMode
		wantErr string
	}{
		{"WorldReadable0644", strings.Repeat("ab", 32), 0o644, "group and others must have no access"},
		{"GroupReadable0640", strings.Repeat("ab", 32), 0o640, "group and others must have no access"},
		{"GroupWritable0620", strings.Repeat("ab", 32), 0o620, "group and others must have no access"},
		{"TooShort", strings.Repeat("ab", 31), 0o600, "shorter than the required 32 bytes"},
		{"Empty", "", 0o600, "shorter than the required 32 bytes"},
		{"NotHex", strings.Repeat("zz", 32), 0o600, "not hex-encoded"},
		{"OddHex", strings.Repeat("a", 65), 0o600, "not hex-encoded"},
		{"Raw", string(bytes.Repeat([]byte{0xfe}, 32)), 0o600, "not hex-encoded"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			path := writeKeyFile(t, tt.content, tt.mode)
			key, err := LoadOrCreateKey(path)
			if err == nil {
				t.Fatalf("LoadOrCreateKey: got key %x, want an error containing %q", key, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error: got %q, want it to contain %q", err, tt.wantErr)
			}
			if tt.content != "" && strings.Contains(err.Error(), tt.content) {
				t.Errorf("error %q repeats the key", err)
			}
			b, _ := os.ReadFile(path)
			if string(b) != tt.content {
				t.Errorf("the refused key file was changed")
			}
		})
	}
	t.Run("Directory", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "key")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadOrCreateKey(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Fatalf("error: got %v, want \"not a regular file\"", err)
		}
	})
}

func writeKeyFile(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "qgate.key")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // not subject to umask
		t.Fatal(err)
	}
	return path
}

func TestKeyFromEnv(t *testing.T) {
	const name = "QGATE_TEST_AUTH_KEY"
	t.Run("OK", func(t *testing.T) {
		want := bytes.Repeat([]byte{7}, 32)
		t.Setenv(name, hex.EncodeToString(want)+"\n")
		got, err := KeyFromEnv(name)
		if err != nil {
			t.Fatalf("KeyFromEnv: %v", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("key: got %x, want %x", got, want)
		}
	})
	tests := []struct {
		name, value, wantErr string
	}{
		{"Unset", "", "is not set"},
		{"Blank", "  ", "is not set"},
		{"TooShort", strings.Repeat("07", 16), "shorter than the required 32 bytes"},
		{"NotHex", strings.Repeat("x", 64), "not hex-encoded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(name, tt.value)
			if tt.name == "Unset" {
				os.Unsetenv(name)
			}
			_, err := KeyFromEnv(name)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error: got %v, want one containing %q", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), name) {
				t.Errorf("error %q does not name the variable", err)
			}
		})
	}
}
