//go:build darwin || dragonfly || freebsd || illumos || linux || netbsd || openbsd

package localserver

import (
	"errors"
	"os"
	"syscall"
)

// lockEnforced reports whether a second server on a locked state file is
// refused on this system.
const lockEnforced = true

// openLocked opens the lock file at path, creating it, and takes an
// exclusive flock on it without waiting; errLockHeld if another open file
// holds it, in this process or another. The kernel releases the lock when
// the file is closed, which the death of the process does too.
func openLocked(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, errors.Join(err, f.Close())
	}
	var lockErr error
	err = rc.Control(func(fd uintptr) {
		for {
			lockErr = syscall.Flock(int(fd), syscall.LOCK_EX|syscall.LOCK_NB)
			if !errors.Is(lockErr, syscall.EINTR) {
				return
			}
		}
	})
	if err == nil {
		err = lockErr
	}
	if err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errLockHeld
		}
		return nil, &os.PathError{Op: "flock", Path: path, Err: err}
	}
	return f, nil
}
