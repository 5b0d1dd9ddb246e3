package localserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// A server locks its state file for as long as it is open, so that two
// servers never overwrite each other's changes: it holds an OS lock on a
// lock file beside it, the state file's name plus lockSuffix, and writes
// its PID, host and start time into it for the error of the next one. The
// state file itself cannot carry the lock, since every write replaces it.
//
// The OS releases the lock when its holder dies, so a lock file left by a
// server that crashed blocks nobody. Close removes the lock file while it
// still holds the lock; the next server checks, once it has the lock, that
// the file it locked is still the one at the path, so that a server that
// opened the file before it was removed never shares the lock with one that
// created a new file.

// lockSuffix is appended to the state file's name to name its lock file.
const lockSuffix = ".lock"

const (
	// lockAttempts bounds the attempts to take a lock whose holder has not
	// written its details yet, or whose file is removed under us.
	lockAttempts = 20
	// lockRetryWait is the wait between those attempts.
	lockRetryWait = 10 * time.Millisecond
)

// errLockHeld is openLocked's error when another open file holds the lock.
var errLockHeld = errors.New("lock held by another open file")

// LockOwner is the server holding a state file, as its lock file records
// it.
type LockOwner struct {
	PID     int       `json:"pid"`
	Host    string    `json:"host,omitempty"`
	Program string    `json:"program,omitempty"` // the base name of its executable
	Started time.Time `json:"started"`           // when it took the lock
}

// String describes the owner, such as "PID 4242 (keymint-local) on host
// ci-7, started 2025-06-01T12:00:00Z", or "process unknown" for the zero
// LockOwner.
func (o LockOwner) String() string {
	if o.PID == 0 {
		return "process unknown"
	}
	s := "PID " + strconv.Itoa(o.PID)
	if o.Program != "" {
		s += " (" + o.Program + ")"
	}
	if o.Host != "" {
		s += " on host " + o.Host
	}
	if !o.Started.IsZero() {
		s += ", started " + o.Started.Format(time.RFC3339)
	}
	return s
}

// StateLockedError is the error of New when another server, in this
// process or another, has the state file open.
type StateLockedError struct {
	StateFile string    // Options.StateFile
	LockFile  string    // the lock file beside it
	Owner     LockOwner // the server holding it; zero if its lock file does not say
}

func (e *StateLockedError) Error() string {
	return fmt.Sprintf("localserver: state file %s is in use by another server, %s; stop that server, or use another state file", e.StateFile, e.Owner)
}

// stateLock is a held lock on a state file.
type stateLock struct {
	path string   // the lock file
	f    *os.File // open on it, holding the OS lock
}

// lockState takes the lock of the state file at statePath without
// waiting for it, and records the calling process in the lock file.
func lockState(statePath string) (*stateLock, error) {
	path := statePath + lockSuffix
	for attempt := 1; ; attempt++ {
		f, err := openLocked(path)
		if errors.Is(err, errLockHeld) {
			owner, ok := readLockOwner(path)
			if !ok && attempt < lockAttempts {
				// The holder has not written its details yet, or
				// has just left: look again.
				time.Sleep(lockRetryWait)
				continue
			}
			return nil, &StateLockedError{StateFile: statePath, LockFile: path, Owner: owner}
		}
		if err != nil {
			return nil, fmt.Errorf("localserver: lock state file %s: %w", statePath, err)
		}
		if isFileAt(f, path) {
			l := &stateLock{path: path, f: f}
			if err := l.writeOwner(); err != nil {
				return nil, errors.Join(fmt.Errorf("localserver: lock state file %s: %w", statePath, err), l.release())
			}
			return l, nil
		}
		// The holder before us removed the file after we opened it.
		_ = f.Close()
		if attempt >= lockAttempts {
			return nil, fmt.Errorf("localserver: lock state file %s: %s keeps being removed", statePath, path)
		}
	}
}

// writeOwner records the calling process in the lock file.
func (l *stateLock) writeOwner() error {
	owner := LockOwner{PID: os.Getpid(), Program: programName(), Started: time.Now().Round(0)}
	owner.Host, _ = os.Hostname()
	data, err := json.Marshal(owner)
	if err != nil {
		return err
	}
	if err := l.f.Truncate(0); err != nil {
		return err
	}
	_, err = l.f.WriteAt(append(data, '\n'), 0)
	return err
}

// release removes the lock file, if it is still the one at its path, and
// then gives up the lock.
func (l *stateLock) release() error {
	var err error
	if isFileAt(l.f, l.path) {
		if rerr := os.Remove(l.path); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			err = rerr
		}
	}
	err = errors.Join(err, l.f.Close())
	if err != nil {
		return fmt.Errorf("localserver: unlock state file: %w", err)
	}
	return nil
}

// readLockOwner reads the owner recorded in a lock file; ok is false if
// it records none.
func readLockOwner(path string) (owner LockOwner, ok bool) {
	data, err := os.ReadFile(path)
	if err != nil || json.Unmarshal(data, &owner) != nil || owner.PID == 0 {
		return LockOwner{}, false
	}
	return owner, true
}

// isFileAt reports whether f is the file at path.
func isFileAt(f *os.File, path string) bool {
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	pi, err := os.Stat(path)
	return err == nil && os.SameFile(fi, pi)
}

// programName is the base name of the running executable, without ".exe".
func programName() string {
	if len(os.Args) == 0 {
		return ""
	}
	return strings.TrimSuffix(filepath.Base(os.Args[0]), ".exe")
}
