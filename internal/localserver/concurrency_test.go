package localserver

import (
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"
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
	closeServer(t, f.srv)
	again := newServer(t, Options{Seed: testSeed(), StateFile: path})
	if d, _ := again.Devices(productA, key); len(d) != seats {
		t.Errorf("%d devices after restart, want %d", len(d), seats)
	}
	if d, _ := again.Devices(productA, keyUnlimited); len(d) != hosts {
		t.Errorf("%d unlimited devices after restart, want %d", len(d), hosts)
	}
	wantOnlyStateFile(t, filepath.Dir(path))
}

// TestNothingLostUnderFaults runs clients that retry until they get a
// definitive answer against a server that fails often, while the faults,
// the rate limit and the local aids are used at the same time. Every
// failure the clients see is accounted for in the fault stats, and every
// seat they took is freed in the end, lost answers included.
func TestNothingLostUnderFaults(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	f := newFixture(t, path)
	const key = "lk_shared_seats_0123456789"
	const workers, rounds = 8, 4
	if err := f.srv.AddLicense(productA, LicenseSeed{Key: key, MaxActivations: new(workers)}); err != nil {
		t.Fatal(err)
	}
	faults := FaultConfig{ServerErrorRate: 0.15, RateLimitRate: 0.15, LostAnswerRate: 0.15, Latency: time.Millisecond, Seed: 1}
	f.setFaults(faults)

	var mu sync.Mutex
	statuses := map[int]int{}
	lost := 0
	// send posts until the answer is not a fault, and returns its status.
	send := func(path string, b map[string]any) int {
		for {
			resp, _, err := f.try(http.MethodPost, path, testToken, b)
			mu.Lock()
			if err != nil {
				lost++
			} else {
				statuses[resp.StatusCode]++
			}
			mu.Unlock()
			if err == nil && resp.StatusCode != 500 && resp.StatusCode != 429 {
				return resp.StatusCode
			}
		}
	}

	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			activate, deactivate := "/activate-key", "/deactivate-key"
			if w%2 == 1 {
				activate, deactivate = "/key/activate", "/key/deactivate"
			}
			for r := range rounds {
				host := fmt.Sprintf("host-%d-%d", w, r)
				if status := send(activate, body(productA, key, host, "")); status != 200 {
					t.Errorf("activate %s: %d", host, status)
				}
				send("/get-key", body(productA, key, "", ""))
				// After a lost answer, the seat is already free: 404 or 403.
				if status := send(deactivate, body(productA, key, host, "")); status != 200 && status != 404 && status != 403 {
					t.Errorf("deactivate %s: %d", host, status)
				}
			}
		})
	}
	done := make(chan struct{})
	var admin sync.WaitGroup
	admin.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			for _, p := range []string{"/_local/faults", "/_local/calls", "/_local/licenses", "/_local/seats"} {
				if status, raw := f.request(http.MethodGet, p, testToken, nil); status != 200 {
					t.Errorf("%s: %d %s", p, status, raw)
				}
			}
			_ = f.srv.Licenses()
			_ = f.srv.FaultStats()
			if err := f.srv.SetRateLimit(RateLimit{}); err != nil {
				t.Error(err)
			}
			time.Sleep(time.Millisecond)
		}
	})
	wg.Wait()
	close(done)
	admin.Wait()

	if devices, _ := f.srv.Devices(productA, key); len(devices) != 0 {
		t.Errorf("seats left behind: %v", hostIDs(devices))
	}
	stats := f.srv.FaultStats()
	if stats.ServerErrors != statuses[500] || stats.RateLimited != statuses[429] || stats.LostAnswers != lost {
		t.Errorf("stats %+v, clients saw %d 500s, %d 429s, %d lost answers", stats, statuses[500], statuses[429], lost)
	}
	if stats.ServerErrors == 0 || stats.RateLimited == 0 || stats.LostAnswers == 0 {
		t.Errorf("not every fault happened: %+v", stats)
	}
	if total := f.srv.TotalCalls(); stats.Requests != total {
		t.Errorf("stats count %d requests, Calls %d", stats.Requests, total)
	}
	closeServer(t, f.srv)
	again := newServer(t, Options{Seed: testSeed(), StateFile: path})
	if d, _ := again.Devices(productA, key); len(d) != 0 {
		t.Errorf("seats in the state file: %v", hostIDs(d))
	}
}
