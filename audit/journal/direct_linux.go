//go:build linux

package journal

import (
	"os"

	"golang.org/x/sys/unix"
)

// openDirect opens path a second time for direct, synchronous writes
// (O_DIRECT|O_DSYNC): each write goes to the device without the page
// cache and returns once it is durable, in one system call. It returns nil
// where the filesystem does not support it (tmpfs, for one).
func openDirect(path string) *os.File {
	f, err := os.OpenFile(path, os.O_WRONLY|unix.O_DIRECT|unix.O_DSYNC, 0)
	if err != nil {
		return nil
	}
	return f
}
