package localserver

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// wantNoLockFile checks that the state file at path has no lock file.
func wantNoLockFile(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path + lockSuffix); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("lock file: %v, want none", err)
	}
}

func TestStateLock(t *testing.T) {
	if !lockEnforced {
		t.Skip("state files are not locked on this system")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	before := time.Now()
	first := newServer(t, Options{Seed: testSeed(), StateFile: path})
	owner, ok := readLockOwner(path + lockSuffix)
	host, _ := os.Hostname()
	if !ok || owner.PID != os.Getpid() || owner.Host != host || owner.Program != programName() ||
		owner.Started.Before(before.Truncate(time.Second)) || owner.Started.After(time.Now()) {
		t.Fatalf("lock file records %+v", owner)
	}
	lockData, _ := os.ReadFile(path + lockSuffix)
	stateData, _ := os.ReadFile(path)

	// A second server on the same file is refused, and told who has it.
	second, err := New(Options{Seed: testSeed(), StateFile: path})
	want := fmt.Sprintf("localserver: state file %s is in use by another server, PID %d (%s) on host %s, started %s; stop that server, or use another state file",
		path, os.Getpid(), programName(), host, owner.Started.Format(time.RFC3339))
	if second != nil || err == nil || err.Error() != want {
		t.Fatalf("second New on the state file: %v\nwant %s", err, want)
	}
	var locked *StateLockedError
	if !errors.As(err, &locked) || locked.StateFile != path || locked.LockFile != path+lockSuffix || locked.Owner != owner {
		t.Errorf("error = %#v", err)
	}
	// It touched neither file, and the first server goes on.
	if data, _ := os.ReadFile(path + lockSuffix); !bytes.Equal(data, lockData) {
		t.Errorf("lock file changed to %s", data)
	}
	if data, _ := os.ReadFile(path); !bytes.Equal(data, stateData) {
		t.Errorf("state file changed to %s", data)
	}
	if err := first.ActivateDevice(productA, keyLimited, "host-1", "", ""); err != nil {
		t.Fatal(err)
	}
	wantOnlyStateFile(t, dir)

	// Close releases the file, and removes the lock file; it may be called again.
	closeServer(t, first)
	closeServer(t, first)
	wantNoLockFile(t, path)
	wantOnlyStateFile(t, dir)
	// A closed server no longer writes the file.
	if err := first.ActivateDevice(productA, keyLimited, "host-2", "", ""); !errors.Is(err, errClosed) {
		t.Errorf("activation after Close: %v, want %v", err, errClosed)
	}
	if st, _ := readStateFile(path); stateLicenseHosts(st, keyLimited) != "host-1" {
		t.Errorf("state file holds %q, want host-1", stateLicenseHosts(st, keyLimited))
	}

	// The next server gets the file, with the first one's changes.
	third := newServer(t, Options{Seed: testSeed(), StateFile: path})
	if devices, _ := third.Devices(productA, keyLimited); len(devices) != 1 || devices[0].HostID != "host-1" {
		t.Errorf("devices after the restart: %v", hostIDs(devices))
	}
	closeServer(t, third)
	wantNoLockFile(t, path)
}

// TestStateLockWithoutOwner: a lock whose file does not name its holder
// still keeps a second server out.
func TestStateLockWithoutOwner(t *testing.T) {
	if !lockEnforced {
		t.Skip("state files are not locked on this system")
	}
	path := filepath.Join(t.TempDir(), "state.json")
	f, err := openLocked(path + lockSuffix)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = New(Options{Seed: testSeed(), StateFile: path})
	if want := "state file " + path + " is in use by another server, process unknown; stop that server"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("New: %v, want %q", err, want)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the refused server wrote the state file: %v", err)
	}
}

// TestFailedNewReleasesTheLock: a server that fails to start, here on a
// corrupt state file, does not keep the file locked.
func TestFailedNewReleasesTheLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{Seed: testSeed(), StateFile: path}); err == nil {
		t.Fatal("New accepted a corrupt state file")
	}
	wantNoLockFile(t, path)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	newServer(t, Options{Seed: testSeed(), StateFile: path})
}

// lockHelperEnv names the state file TestLockHelperProcess opens.
const lockHelperEnv = "KEYMINT_LOCALSERVER_LOCK_HELPER"

// TestLockHelperProcess is not a test of its own. TestLockOfAProcessThatDied
// runs the test binary with lockHelperEnv set to a state file, and then
// this opens a server on that file, says "locked" and waits, without ever
// closing the server, until it is killed or its stdin is closed.
func TestLockHelperProcess(t *testing.T) {
	path := os.Getenv(lockHelperEnv)
	if path == "" {
		t.Skip("only runs as the helper process of TestLockOfAProcessThatDied")
	}
	if _, err := New(Options{Seed: testSeed(), StateFile: path}); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	fmt.Println("locked")
	_, _ = io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}

// TestLockOfAProcessThatDied: another process's lock keeps a server out
// while that process lives, and the lock file it leaves when it dies
// without closing its server blocks nobody.
func TestLockOfAProcessThatDied(t *testing.T) {
	if !lockEnforced {
		t.Skip("state files are not locked on this system")
	}
	path := filepath.Join(t.TempDir(), "state.json")
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestLockHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), lockHelperEnv+"="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := false
	defer func() {
		if !exited {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()
	said := make(chan string, 1)
	go func() {
		var out strings.Builder
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "locked" {
				said <- "locked"
				return
			}
			out.WriteString(sc.Text() + "\n")
		}
		said <- out.String()
	}()
	select {
	case s := <-said:
		if s != "locked" {
			t.Fatalf("the helper process did not take the lock:\n%s", s)
		}
	case <-time.After(time.Minute):
		t.Fatal("the helper process did not start")
	}
	helper := cmd.Process.Pid

	// While it lives, its lock keeps this process out, and the error names it.
	_, err = New(Options{Seed: testSeed(), StateFile: path})
	var locked *StateLockedError
	if !errors.As(err, &locked) || locked.Owner.PID != helper || !strings.Contains(err.Error(), fmt.Sprintf("PID %d ", helper)) {
		t.Fatalf("New while the helper (PID %d) holds the lock: %v", helper, err)
	}

	// Kill it: it never closes its server, so its lock file stays.
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	exited = true
	if owner, ok := readLockOwner(path + lockSuffix); !ok || owner.PID != helper {
		t.Fatalf("the dead helper's lock file records %+v, want PID %d", owner, helper)
	}

	// The lock died with it.
	srv := newServer(t, Options{Seed: testSeed(), StateFile: path})
	if owner, _ := readLockOwner(path + lockSuffix); owner.PID != os.Getpid() {
		t.Errorf("lock file records %+v after the takeover, want PID %d", owner, os.Getpid())
	}
	closeServer(t, srv)
	wantNoLockFile(t, path)
}
