//go:build windows

package localserver

import (
	"errors"
	"os"
	"syscall"
)

// lockEnforced reports whether a second server on a locked state file is
// refused on this system.
const lockEnforced = true

// errorSharingViolation is ERROR_SHARING_VIOLATION, which the syscall
// package does not name.
const errorSharingViolation syscall.Errno = 32

// openLocked opens the lock file at path, creating it, so that no other
// handle may write it: the lock is the open handle itself. Others may
// still read the holder's details, and the holder may remove the file.
// errLockHeld if another handle has it open for writing. Windows closes the
// handle, and so releases the lock, when the process dies.
func openLocked(path string) (*os.File, error) {
	name, err := syscall.UTF16PtrFromString(path)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	h, err := syscall.CreateFile(name,
		syscall.GENERIC_READ|syscall.GENERIC_WRITE,
		syscall.FILE_SHARE_READ|syscall.FILE_SHARE_DELETE,
		nil, syscall.OPEN_ALWAYS, syscall.FILE_ATTRIBUTE_NORMAL, 0)
	if errors.Is(err, errorSharingViolation) {
		return nil, errLockHeld
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(h), path), nil
}
