//go:build unix

package sqlite

import (
	"io/fs"
	"syscall"
)

// linked reports whether a file still has a name: one deleted or replaced
// since it was opened has none.
func linked(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return !ok || st.Nlink > 0
}
