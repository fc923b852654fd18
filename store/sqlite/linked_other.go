//go:build !unix

package sqlite

import "io/fs"

// linked cannot tell a deleted file on this platform: the announcement
// file is then read by name on every call (reopen), as if never opened.
func linked(fs.FileInfo) bool { return false }
