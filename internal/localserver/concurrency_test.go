package localserver

import (
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
)

func TestConcurrentActivations(t *testing.T) {
	const hosts, seats = 50, 10
	path := filepath.Join(t.TempDir(), "state.json")
	f := newFixture(t, path)
	const key = "lk_ten_seats_0123456789abc"
	if err := f.srv.AddLicense(productA, LicenseSeed{Key: key, MaxActivations: new(seats)}); err != nil {
		t.Fatal(err)
	}

	statuses := make(chan int, hosts)
	var wg sync.WaitGroup
	for i := range hosts {
		wg.Go(func() {
			status, got := f.post("/activate-key", body(productA, key, fmt.Sprintf("host-%02d", i), ""))
			if status != 200 {
				wantError(t, "refused activation", status, got, 403, 2, "Activation limit reached")
			}
			statuses <- status
		})
		// Readers and other writers at the same time.
		wg.Go(func() { f.post("/get-key", body(productA, key, "", "")) })
		wg.Go(func() { f.request(http.MethodGet, "/_local/seats", testToken, nil) })
		wg.Go(func() { f.post("/activate-key", body(productA, keyUnlimited, fmt.Sprintf("other-%02d", i), "")) })
	}
	wg.Wait()
	close(statuses)
	ok := 0
	for s := range statuses {
		if s == 200 {
			ok++
		}
	}
	if ok != seats {
		t.Errorf("%d activations succeeded, want %d", ok, seats)
	}
	devices, _ := f.srv.Devices(productA, key)
	if len(devices) != seats {
		t.Errorf("%d devices, want %d", len(devices), seats)
	}
	if got := f.srv.Calls()["/activate-key"]; got != 2*hosts {
		t.Errorf("Calls()[/activate-key] = %d, want %d", got, 2*hosts)
	}

	// The state file holds the final state.
	again, err := New(Options{Seed: testSeed(), StateFile: path})
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := again.Devices(productA, key); len(d) != seats {
		t.Errorf("%d devices after restart, want %d", len(d), seats)
	}
	if d, _ := again.Devices(productA, keyUnlimited); len(d) != hosts {
		t.Errorf("%d unlimited devices after restart, want %d", len(d), hosts)
	}
	wantOnlyStateFile(t, filepath.Dir(path))
}
