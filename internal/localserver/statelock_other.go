//go:build !(darwin || dragonfly || freebsd || illumos || linux || netbsd || openbsd || windows)

package localserver

import "os"

// lockEnforced reports whether a second server on a locked state file is
// refused on this system. Here, without flock, the lock file records its
// owner but does not keep a second server out.
const lockEnforced = false

// openLocked opens the lock file at path, creating it; it takes no lock.
func openLocked(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
}
