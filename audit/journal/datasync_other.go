//go:build unix && !aix && !linux

package journal

import "os"

// datasync flushes f's data to disk. These systems have no fdatasync in
// golang.org/x/sys/unix, so it uses f.Sync, which on macOS also flushes
// the drive's cache (F_FULLFSYNC), as durability there requires.
func datasync(f *os.File, _ int) error {
	return f.Sync()
}
