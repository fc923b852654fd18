package httpproxy

import "golang.org/x/sys/unix"

// peerHungUp reports whether the peer of socket fd has shut down its
// sending side (POLLRDHUP), even with unread bytes still queued.
func peerHungUp(fd int) bool {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLRDHUP}}
	n, err := unix.Poll(fds, 0)
	return err == nil && n > 0 && fds[0].Revents&(unix.POLLRDHUP|unix.POLLHUP|unix.POLLERR) != 0
}
