package keymint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeAPI is a minimal generation-1 server holding hosts per license key. A
// get-key of a key in gate waits until the gate's channel is closed.
type fakeAPI struct {
	mu      sync.Mutex
	hosts   map[string][]string // by license key
	gets    map[string]int      // get-key calls by license key
	gate    map[string]chan struct{}
	started chan string // receives the key of each get-key as it starts
	// holdHost holds the activation of a host until its channel is closed;
	// activating receives each activated host as its request arrives.
	holdHost   map[string]chan struct{}
	activating chan string
	// getDelay is the latency of every get-key.
	getDelay time.Duration
}

func newFakeAPI() *fakeAPI {
	return &fakeAPI{hosts: map[string][]string{}, gets: map[string]int{}, gate: map[string]chan struct{}{}, started: make(chan string, 100),
		holdHost: map[string]chan struct{}{}, activating: make(chan string, 100)}
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	var body keyRequest
	_ = json.Unmarshal(raw, &body)
	key := body.LicenseKey
	switch r.URL.Path {
	case "/activate-key":
		f.activating <- body.HostID
		f.mu.Lock()
		hold := f.holdHost[body.HostID]
		f.mu.Unlock()
		if hold != nil {
			<-hold
		}
		f.mu.Lock()
		f.hosts[key] = append(f.hosts[key], body.HostID)
		f.mu.Unlock()
		_, _ = io.WriteString(w, `{"code":0,"message":"License valid"}`)
	case "/get-key":
		f.mu.Lock()
		f.gets[key]++
		gate := f.gate[key]
		f.mu.Unlock()
		f.started <- key
		time.Sleep(f.getDelay)
		if gate != nil {
			<-gate
		}
		f.mu.Lock()
		devs := make([]map[string]string, 0, len(f.hosts[key]))
		for _, h := range f.hosts[key] {
			devs = append(devs, map[string]string{"host_id": h})
		}
		f.mu.Unlock()
		out, _ := json.Marshal(map[string]any{"code": 0, "data": map[string]any{"license": map[string]any{"devices": devs}}})
		_, _ = w.Write(out)
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeAPI) getCalls(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gets[key]
}

func (f *fakeAPI) close(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	close(f.gate[key])
	delete(f.gate, key)
}

func (f *fakeAPI) hold(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gate[key] = make(chan struct{})
}

func fakeClient(t *testing.T, f *fakeAPI) *Client {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c, err := New(Config{BaseURL: srv.URL, AccessToken: testToken, MaxRetries: ptr(0)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const keyA, keyB = "lk_AAAAAAAAAAAAAAAAAAAAAAAA", "lk_BBBBBBBBBBBBBBBBBBBBBBBB"

func TestConcurrentReadsShareOneCall(t *testing.T) {
	f := newFakeAPI()
	c := fakeClient(t, f)
	f.hold(keyA)
	const readers = 50
	var wg sync.WaitGroup
	errs := make(chan error, readers)
	for range readers {
		wg.Go(func() {
			_, err := c.GetKey(context.Background(), testProduct, keyA)
			errs <- err
		})
	}
	<-f.started
	time.Sleep(50 * time.Millisecond) // let every reader arrive while the call is held
	f.close(keyA)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// Later reads, with no write in between, use the same answer.
	for range 10 {
		if _, err := c.GetKey(context.Background(), testProduct, keyA); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.getCalls(keyA); got != 1 {
		t.Errorf("%d get-key calls for %d concurrent and 10 later reads, want 1", got, readers)
	}
}

func TestWriteMakesTheNextReadFresh(t *testing.T) {
	f := newFakeAPI()
	c := fakeClient(t, f)
	ctx := context.Background()
	if _, err := c.GetKey(ctx, testProduct, keyA); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Activate(ctx, ActivateInput{ProductID: testProduct, LicenseKey: keyA, HostID: "h1"}); err != nil {
		t.Fatal(err)
	}
	lic, err := c.GetKey(ctx, testProduct, keyA)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := lic.Device("h1"); !ok {
		t.Error("the read after an activation does not show it")
	}
	if got := f.getCalls(keyA); got != 2 {
		t.Errorf("%d get-key calls, want 2", got)
	}
	// A failed write invalidates too: it may have changed the license.
	if _, err := c.Deactivate(ctx, testProduct, keyA, "h1"); err == nil {
		t.Fatal("the fake has no deactivate; want an error")
	}
	if _, err := c.GetKey(ctx, testProduct, keyA); err != nil {
		t.Fatal(err)
	}
	if got := f.getCalls(keyA); got != 3 {
		t.Errorf("%d get-key calls after a failed write, want 3", got)
	}
}

// A read that starts after a write completed never joins a read that was
// sent before it: it waits for that one to end, then sends its own.
func TestReadInFlightDuringWriteIsNotReused(t *testing.T) {
	f := newFakeAPI()
	c := fakeClient(t, f)
	ctx := context.Background()
	f.hold(keyA)
	first := make(chan *License, 1)
	go func() {
		lic, _ := c.GetKey(ctx, testProduct, keyA)
		first <- lic
	}()
	<-f.started // the first read is at the server, held
	if _, err := c.Activate(ctx, ActivateInput{ProductID: testProduct, LicenseKey: keyA, HostID: "late"}); err != nil {
		t.Fatal(err)
	}
	second := make(chan *License, 1)
	go func() {
		lic, _ := c.GetKey(ctx, testProduct, keyA)
		second <- lic
	}()
	time.Sleep(20 * time.Millisecond) // the second read queues behind the first
	f.close(keyA)
	<-f.started // the second read went to the server on its own
	if lic := <-second; lic == nil {
		t.Fatal("second read failed")
	} else if _, ok := lic.Device("late"); !ok {
		t.Error("the read that started after the activation does not show it")
	}
	<-first
	if got := f.getCalls(keyA); got != 2 {
		t.Errorf("%d get-key calls, want 2", got)
	}
	// The held first read predates the write, so it must not be kept.
	lic, err := c.GetKey(ctx, testProduct, keyA)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := lic.Device("late"); !ok {
		t.Error("a read served a result older than the write")
	}
}

// A held read of one license blocks neither reads of another nor writes.
func TestNoGlobalLock(t *testing.T) {
	f := newFakeAPI()
	c := fakeClient(t, f)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	f.hold(keyA)
	go func() { _, _ = c.GetKey(context.Background(), testProduct, keyA) }()
	<-f.started
	if _, err := c.GetKey(ctx, testProduct, keyB); err != nil {
		t.Fatalf("read of another license: %v", err)
	}
	if _, err := c.Activate(ctx, ActivateInput{ProductID: testProduct, LicenseKey: keyA, HostID: "w"}); err != nil {
		t.Fatalf("write to the held license: %v", err)
	}
	f.close(keyA)
	if got := f.getCalls(keyB); got != 1 {
		t.Errorf("%d get-key calls for the other license, want 1", got)
	}
}

// One caller giving up does not fail the others waiting for the same read.
func TestCancelledReaderLeavesOthers(t *testing.T) {
	f := newFakeAPI()
	c := fakeClient(t, f)
	f.hold(keyB)
	ctx, cancel := context.WithCancel(context.Background())
	var gotErr atomic.Value
	done := make(chan struct{})
	go func() {
		_, err := c.GetKey(ctx, testProduct, keyB)
		gotErr.Store(fmt.Sprint(err))
		close(done)
	}()
	<-f.started
	other := make(chan error, 1)
	go func() {
		_, err := c.GetKey(context.Background(), testProduct, keyB)
		other <- err
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	<-done
	if gotErr.Load() != context.Canceled.Error() {
		t.Errorf("cancelled reader got %v", gotErr.Load())
	}
	f.close(keyB)
	if err := <-other; err != nil {
		t.Errorf("the other reader failed: %v", err)
	}
	if got := f.getCalls(keyB); got != 1 {
		t.Errorf("%d get-key calls, want 1", got)
	}
}

// Readers that each need a read newer than the one in flight share a single
// queued read: an apply's creates, each writing then reading, batch up.
func TestQueuedReadsAreShared(t *testing.T) {
	f := newFakeAPI()
	c := fakeClient(t, f)
	ctx := context.Background()
	f.hold(keyA)
	go func() { _, _ = c.GetKey(ctx, testProduct, keyA) }()
	<-f.started
	const creates = 8
	var wg sync.WaitGroup
	for i := range creates {
		wg.Go(func() {
			host := fmt.Sprintf("h%d", i)
			if _, err := c.Activate(ctx, ActivateInput{ProductID: testProduct, LicenseKey: keyA, HostID: host}); err != nil {
				t.Error(err)
				return
			}
			lic, err := c.GetKey(ctx, testProduct, keyA)
			if err != nil {
				t.Error(err)
				return
			}
			if _, ok := lic.Device(host); !ok {
				t.Errorf("the read after activating %s does not show it", host)
			}
		})
	}
	for deadline := time.Now().Add(5 * time.Second); ; {
		f.mu.Lock()
		written := len(f.hosts[keyA])
		f.mu.Unlock()
		if written == creates || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(30 * time.Millisecond) // every create has queued its read
	f.close(keyA)
	wg.Wait()
	if got := f.getCalls(keyA); got != 2 {
		t.Errorf("%d get-key calls for one held read and %d creates, want 2", got, creates)
	}
}

func TestFreshReadsOption(t *testing.T) {
	f := newFakeAPI()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c, err := New(Config{BaseURL: srv.URL, AccessToken: testToken, FreshReads: true})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := c.GetKey(context.Background(), testProduct, keyA); err != nil {
			t.Fatal(err)
		}
		<-f.started
	}
	if got := f.getCalls(keyA); got != 3 {
		t.Errorf("%d get-key calls with FreshReads, want 3", got)
	}
}

// Ten activations of one license running at once, each reading the license
// back, make one get-key in all: each read waits for the writes in flight
// when it is called, then they share one read, which shows every write.
func TestReadBackSharesOneReadWithTheWave(t *testing.T) {
	f := newFakeAPI()
	f.getDelay = 10 * time.Millisecond
	c := fakeClient(t, f)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const creates = 10
	// The activations are answered only once all of them have arrived, so
	// that they are all in flight together, as in an apply.
	release := make(chan struct{})
	for i := range creates {
		f.holdHost[fmt.Sprintf("h%d", i)] = release
	}
	var wg sync.WaitGroup
	for i := range creates {
		wg.Go(func() {
			host := fmt.Sprintf("h%d", i)
			if _, err := c.Activate(ctx, ActivateInput{ProductID: testProduct, LicenseKey: keyA, HostID: host}); err != nil {
				t.Error(err)
				return
			}
			lic, err := c.GetKey(ctx, testProduct, keyA)
			if err != nil {
				t.Error(err)
				return
			}
			// Never older than the caller's own write; in fact, it shows all.
			if got := len(lic.Devices); got != creates {
				t.Errorf("the read after activating %s shows %d devices, want %d", host, got, creates)
			}
		})
	}
	for range creates {
		<-f.activating
	}
	close(release)
	wg.Wait()
	if got := f.getCalls(keyA); got != 1 {
		t.Errorf("%d get-key calls for %d activations read back at once, want 1", got, creates)
	}
}

// A read waits for a write in flight when it is called, and shows it; it
// does not wait for a write that starts after it was called.
func TestReadWaitsForWritesInFlight(t *testing.T) {
	f := newFakeAPI()
	c := fakeClient(t, f)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	waiting := make(chan struct{}, 1)
	c.reads.waitsForWrites = func() { waiting <- struct{}{} }
	holdEarly, holdLate := make(chan struct{}), make(chan struct{})
	f.holdHost["early"], f.holdHost["late"] = holdEarly, holdLate
	go func() {
		_, _ = c.Activate(ctx, ActivateInput{ProductID: testProduct, LicenseKey: keyA, HostID: "early"})
	}()
	<-f.activating // the early write is at the server, held
	read := make(chan *License, 1)
	go func() {
		lic, err := c.GetKey(ctx, testProduct, keyA)
		if err != nil {
			t.Error(err)
		}
		read <- lic
	}()
	<-waiting // the read has taken note of the writes in flight
	go func() {
		_, _ = c.Activate(ctx, ActivateInput{ProductID: testProduct, LicenseKey: keyA, HostID: "late"})
	}()
	<-f.activating // the late write is in flight too, held
	if n := f.getCalls(keyA); n != 0 {
		t.Fatalf("%d get-key calls while a write the read waits for is in flight", n)
	}
	close(holdEarly)
	var lic *License
	select {
	case lic = <-read:
	case <-time.After(10 * time.Second):
		t.Fatal("the read waited for a write that started after it was called")
	}
	if _, ok := lic.Device("early"); !ok {
		t.Error("the read does not show the write that was in flight when it was called")
	}
	close(holdLate)
}

// A caller waiting for writes in flight gives up when its context ends.
func TestReadWaitingForWritesCanBeCancelled(t *testing.T) {
	f := newFakeAPI()
	c := fakeClient(t, f)
	hold := make(chan struct{})
	defer close(hold)
	f.holdHost["held"] = hold
	go func() {
		_, _ = c.Activate(context.Background(), ActivateInput{ProductID: testProduct, LicenseKey: keyA, HostID: "held"})
	}()
	<-f.activating
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	if _, err := c.GetKey(ctx, testProduct, keyA); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	// Another license is not held up.
	if _, err := c.GetKey(context.Background(), testProduct, keyB); err != nil {
		t.Error(err)
	}
}
