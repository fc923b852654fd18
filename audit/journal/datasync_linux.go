package journal

import (
	"os"

	"golang.org/x/sys/unix"
)

// datasync flushes f's data to disk, and only the metadata needed to read
// it back. Records overwrite preallocated blocks, so there is none, and
// fdatasync costs much less than fsync.
func datasync(_ *os.File, fd int) error {
	for {
		err := unix.Fdatasync(fd)
		if err != unix.EINTR {
			return err
		}
	}
}
