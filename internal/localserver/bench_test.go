package localserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/keymint-dev/terraform-provider-keymint/internal/keymint"
)

// benchClients is the number of concurrent clients per GOMAXPROCS.
const benchClients = 8

// benchServer serves a fresh server without state file or faults over
// loopback and returns its URL and a client that keeps enough idle
// connections for every concurrent client.
func benchServer(b *testing.B) (string, *http.Client) {
	b.Helper()
	srv, err := New(Options{Seed: testSeed()})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	b.Cleanup(ts.Close)
	transport := &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024}
	b.Cleanup(transport.CloseIdleConnections)
	return ts.URL, &http.Client{Transport: transport}
}

// benchDo sends a request and reads the answer, failing unless it is a 200.
func benchDo(b *testing.B, client *http.Client, req *http.Request) {
	resp, err := client.Do(req)
	if err != nil {
		b.Error(err)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Errorf("%s %s: status %d", req.Method, req.URL.Path, resp.StatusCode)
	}
}

// newBenchRequest returns an authenticated request. The URLs of the
// benchmarks are always valid, so an error is a bug.
func newBenchRequest(method, url string, body []byte) *http.Request {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		panic(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/json")
	return req
}

// reportRate reports the requests per second of a benchmark that sends
// one request per iteration.
func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

func BenchmarkServerGetKey(b *testing.B) {
	b.Run("gen1", func(b *testing.B) {
		url, client := benchServer(b)
		data, _ := json.Marshal(body(productA, keyLimited, "", ""))
		b.SetParallelism(benchClients)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				benchDo(b, client, newBenchRequest(http.MethodPost, url+"/get-key", data))
			}
		})
		reportRate(b)
	})
	b.Run("gen2", func(b *testing.B) {
		url, client := benchServer(b)
		b.SetParallelism(benchClients)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				req := newBenchRequest(http.MethodGet, url+"/key?productId="+productA, nil)
				req.Header.Set(keymint.HeaderLicenseKey, keyLimited)
				benchDo(b, client, req)
			}
		})
		reportRate(b)
	})
}

// BenchmarkServerActivateDeactivate alternates activations and
// deactivations of a host per client, one request per iteration.
func BenchmarkServerActivateDeactivate(b *testing.B) {
	url, client := benchServer(b)
	var clients atomic.Int64
	b.SetParallelism(benchClients)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		host := fmt.Sprintf("bench-host-%d", clients.Add(1))
		activate, _ := json.Marshal(body(productA, keyUnlimited, host, "bench"))
		deactivate, _ := json.Marshal(body(productA, keyUnlimited, host, ""))
		for active := false; pb.Next(); active = !active {
			path, data := "/activate-key", activate
			if active {
				path, data = "/deactivate-key", deactivate
			}
			benchDo(b, client, newBenchRequest(http.MethodPost, url+path, data))
		}
	})
	reportRate(b)
}
