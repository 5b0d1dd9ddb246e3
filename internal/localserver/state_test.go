package localserver

import (
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// wantOnlyStateFile checks that dir holds the state file, its lock file if
// a server has it open, and nothing else (no temporary file left behind),
// and that only their owner can read them.
func wantOnlyStateFile(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"state.json"}) && !slices.Equal(names, []string{"state.json", "state.json.lock"}) {
		t.Errorf("directory holds %v, want only state.json and its lock file", names)
	}
	for _, name := range names {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if perm := info.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s: mode %v, want 0600", name, perm)
		}
	}
}

func TestStateFileCreatedFromSeed(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	newFixture(t, path)
	wantOnlyStateFile(t, dir)
	st, err := readStateFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Products) != 2 || !slices.Equal(st.AccessTokens, []string{testToken}) {
		t.Errorf("state = %+v", st)
	}
}

func TestStateFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	f := newFixture(t, path)

	// Every answer to a mutation comes after the state that holds it is on disk.
	f.post("/activate-key", body(productA, keyLimited, "host-1", "ci"))
	if st, _ := readStateFile(path); !strings.Contains(stateLicenseHosts(st, keyLimited), "host-1") {
		t.Errorf("activation acknowledged before it was saved")
	}
	f.clock.Advance(time.Minute)
	f.post("/activate-key", body(productA, keyLimited, "host-2", ""))
	f.post("/activate-key", body(productA, keyUnlimited, "host-9", ""))
	f.post("/deactivate-key", body(productA, keyUnlimited, "host-9", ""))
	if st, _ := readStateFile(path); stateLicenseHosts(st, keyUnlimited) != "" {
		t.Errorf("deactivation acknowledged before it was saved")
	}
	const added = "lk_added_at_runtime_0123456"
	if err := f.srv.AddLicense(productB, LicenseSeed{Key: added, MaxActivations: new(7)}); err != nil {
		t.Fatal(err)
	}
	if err := f.srv.SetBlocked(productB, keyOther, true); err != nil {
		t.Fatal(err)
	}
	if err := f.srv.SetMaxActivations(productA, keyUnlimited, new(3)); err != nil {
		t.Fatal(err)
	}
	f.srv.AddToken("at_runtime_token_0123456789")
	wantOnlyStateFile(t, dir)
	seatsBefore := f.srv.Seats()

	// Restart with a seed that disagrees with the file and adds a license and a token.
	seed := testSeed()
	seed.Products[0].Licenses[0].MaxActivations = new(50) // the file wins
	seed.Products = append(seed.Products, ProductSeed{ID: "prod_cccccccccccccccccccccc", Licenses: []LicenseSeed{{Key: "lk_new_in_seed_0123456789ab"}}})
	seed.AccessTokens = append(seed.AccessTokens, "at_new_seed_token_0123456789")
	closeServer(t, f.srv)
	again := newServer(t, Options{Seed: seed, StateFile: path, Now: f.clock.Now})
	if got := again.Seats(); !equalSeats(got, seatsBefore) {
		t.Errorf("seats after restart = %+v\nwant %+v", got, seatsBefore)
	}
	devices, _ := again.Devices(productA, keyLimited)
	want := []Device{
		{HostID: "host-1", DeviceTag: "ci", IPAddress: "127.0.0.1", ActivationTime: testNow},
		{HostID: "host-2", IPAddress: "127.0.0.1", ActivationTime: testNow.Add(time.Minute)},
	}
	if !slices.Equal(devices, want) {
		t.Errorf("devices after restart = %+v, want %+v", devices, want)
	}
	if err := again.ActivateDevice(productA, keyLimited, "host-3", "", ""); !errors.Is(err, errLimitReached) {
		t.Errorf("seat limit from the file should win over the seed: %v", err)
	}
	if err := again.ActivateDevice(productB, keyOther, "host-1", "", ""); !errors.Is(err, errBlocked) {
		t.Errorf("blocked flag lost in restart: %v", err)
	}
	for _, l := range []struct{ product, key string }{
		{productB, added},
		{"prod_cccccccccccccccccccccc", "lk_new_in_seed_0123456789ab"},
	} {
		if _, err := again.Devices(l.product, l.key); err != nil {
			t.Errorf("license lost: %v", err)
		}
	}
	again.mu.Lock()
	tokens := slices.Sorted(maps.Keys(again.tokens))
	again.mu.Unlock()
	if want := []string{"at_new_seed_token_0123456789", "at_runtime_token_0123456789", testToken}; !slices.Equal(tokens, want) {
		t.Errorf("tokens after restart = %v, want %v", tokens, want)
	}
	wantOnlyStateFile(t, dir)
}

// stateLicenseHosts returns the host IDs of a license in a state file, joined by commas.
func stateLicenseHosts(st stateFile, key string) string {
	for _, p := range st.Products {
		for _, l := range p.Licenses {
			if l.Key == key {
				return strings.Join(hostIDs(l.Devices), ",")
			}
		}
	}
	return ""
}

func equalSeats(a, b []SeatRow) bool {
	return slices.EqualFunc(a, b, func(x, y SeatRow) bool {
		return x.ProductID == y.ProductID && x.MaskedKey == y.MaskedKey && x.HostID == y.HostID &&
			x.DeviceTag == y.DeviceTag && x.IPAddress == y.IPAddress && x.ActivationTime.Equal(y.ActivationTime) &&
			jsonEqual(x.MaxActivations, y.MaxActivations)
	})
}

func TestStateFileErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{Seed: testSeed(), StateFile: bad}); err == nil {
		t.Error("New accepted a corrupt state file")
	}
	wrongVersion := filepath.Join(dir, "v9.json")
	if err := os.WriteFile(wrongVersion, []byte(`{"version":9}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{Seed: testSeed(), StateFile: wrongVersion}); err == nil {
		t.Error("New accepted an unknown state file version")
	}
	missingDir := filepath.Join(dir, "no", "such", "dir", "state.json")
	if _, err := New(Options{Seed: testSeed(), StateFile: missingDir}); err == nil {
		t.Error("New accepted a state file it cannot write")
	}
}

func TestFailedSaveIsAServerError(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "state.json")
	if err := os.Mkdir(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	c := &clock{t: testNow}
	var logged strings.Builder
	srv := newServer(t, Options{Seed: testSeed(), StateFile: path, Now: c.Now, ErrorLog: newTestLogger(&logged)})
	if err := os.RemoveAll(filepath.Dir(path)); err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, srv: srv, clock: c}
	f.url = startServer(t, srv)
	status, got := f.post("/activate-key", body(productA, keyLimited, "host-1", ""))
	wantError(t, "activation that cannot be saved", status, got, 500, 1, "Server error")
	if !strings.Contains(logged.String(), "write state") {
		t.Errorf("failure not logged: %q", logged.String())
	}
	noKeyIn(t, "error log", logged.String(), keyLimited)
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stat state file: %v", err)
	}
}
