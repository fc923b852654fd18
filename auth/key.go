package auth

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// MinKeySize is the smallest server key accepted, in bytes.
const MinKeySize = 32

// maxKeyFileSize bounds how much of a key file is read.
const maxKeyFileSize = 4096

// LoadOrCreateKey returns the server key kept in the file at path. The file
// holds the key hex-encoded (surrounding white space is ignored), as written
// by `openssl rand -hex 32`.
//
// If the file does not exist, LoadOrCreateKey creates it (and its directory,
// mode 0700) with 32 random bytes, hex-encoded, mode 0600. It refuses a file
// that group or others may access, that is not a regular file, that is not
// hex, or whose key is shorter than MinKeySize bytes.
//
// Losing the key file invalidates every issued token (their hashes can no
// longer be recomputed); back it up with the store.
func LoadOrCreateKey(path string) ([]byte, error) {
	key, err := readKeyFile(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	if err := createKeyFile(path); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	// Read back what is on disk: if another process created the file
	// first, its key wins.
	return readKeyFile(path)
}

// KeyFromEnv returns the hex-encoded server key held in the environment
// variable name. It fails if the variable is unset or empty, is not hex, or
// holds fewer than MinKeySize bytes.
func KeyFromEnv(name string) ([]byte, error) {
	v, ok := os.LookupEnv(name)
	if !ok || strings.TrimSpace(v) == "" {
		return nil, fmt.Errorf("auth: environment variable %s is not set", name)
	}
	key, err := decodeKey(v)
	if err != nil {
		return nil, fmt.Errorf("auth: environment variable %s: %w", name, err)
	}
	return key, nil
}

func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("auth: open key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("auth: key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("auth: key file %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("auth: key file %s has mode %#o: group and others must have no access (chmod 600 %s)", path, perm, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("auth: read key file: %w", err)
	}
	if len(b) > maxKeyFileSize {
		return nil, fmt.Errorf("auth: key file %s is larger than %d bytes", path, maxKeyFileSize)
	}
	key, err := decodeKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("auth: key file %s: %w", path, err)
	}
	return key, nil
}

// decodeKey decodes a hex key and checks its length. Its errors never
// include the key material.
func decodeKey(s string) ([]byte, error) {
	key, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, errors.New("key is not hex-encoded (create one with `openssl rand -hex 32`)")
	}
	if len(key) < MinKeySize {
		return nil, fmt.Errorf("key is %d bytes, shorter than the required %d bytes", len(key), MinKeySize)
	}
	return key, nil
}

func createKeyFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("auth: create key directory: %w", err)
	}
	key := make([]byte, MinKeySize)
	rand.Read(key)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return err
		}
		return fmt.Errorf("auth: create key file: %w", err)
	}
	_, err = f.WriteString(hex.EncodeToString(key) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("auth: write key file: %w", err)
	}
	return nil
}
