package provider

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keymint-dev/terraform-provider-keymint/internal/keymint"
	"github.com/keymint-dev/terraform-provider-keymint/internal/localserver"
)

const (
	resetTestToken   = "at_reset_test_token"
	resetTestProduct = "prod_reset_test_0000000"
	resetTestKey     = "lk_reset_test_00000000000"
)

// resetTestServer is a local server with one license whose given hosts hold
// seats, behind a handler that may meddle with deactivate calls: onDeactivate
// returns false to swallow the answer (the call is handled, its answer lost).
func resetTestServer(t *testing.T, hosts []string, onDeactivate func(srv *localserver.Server) (answer bool)) (*localserver.Server, string) {
	t.Helper()
	srv, err := localserver.New(localserver.Options{Seed: localserver.Seed{
		AccessTokens: []string{resetTestToken},
		Products:     []localserver.ProductSeed{{ID: resetTestProduct, Licenses: []localserver.LicenseSeed{{Key: resetTestKey}}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hosts {
		if err := srv.ActivateDevice(resetTestProduct, resetTestKey, h, "", "10.0.0.1"); err != nil {
			t.Fatal(err)
		}
	}
	api := srv.Handler()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "deactivate") && !onDeactivate(srv) {
			api.ServeHTTP(httptest.NewRecorder(), r)
			panic(http.ErrAbortHandler) // closes the connection without an answer
		}
		api.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	return srv, hs.URL
}

func resetTestClient(t *testing.T, baseURL, version string) *keymint.Client {
	t.Helper()
	retries := 3
	client, err := keymint.New(keymint.Config{
		BaseURL: baseURL, AccessToken: resetTestToken, APIVersion: version,
		MaxRetries: &retries, RetryWaitMin: time.Millisecond, RetryWaitMax: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return client
}

// TestResetLicenseCounts: devices_removed is the server's devicesRemoved
// where it sends one (generation 2), otherwise the count read just before
// (generation 1). A device activated between that read and the reset tells
// the two apart: the server frees and counts it, the earlier read cannot.
func TestResetLicenseCounts(t *testing.T) {
	for _, tt := range []struct {
		version string
		want    int64
	}{
		{keymint.APIv1, 2}, // no devicesRemoved: the count read before
		{keymint.APIv2, 3}, // the server's count, the late device included
	} {
		t.Run(tt.version, func(t *testing.T) {
			srv, url := resetTestServer(t, []string{"early-1", "early-2"}, func(srv *localserver.Server) bool {
				// Another machine activates just before the reset arrives.
				if err := srv.ActivateDevice(resetTestProduct, resetTestKey, "late", "", "10.0.0.2"); err != nil {
					t.Error(err)
				}
				return true
			})
			var seen int64 = -1
			res, err := resetLicense(context.Background(), resetTestClient(t, url, tt.version), resetTestProduct, resetTestKey,
				func(l *keymint.License) { seen = deviceCount(l) })
			if err != nil {
				t.Fatal(err)
			}
			if seen != 2 {
				t.Errorf("before saw %d devices, want 2", seen)
			}
			if res.Removed != tt.want {
				t.Errorf("Removed = %d, want %d", res.Removed, tt.want)
			}
			if devs, _ := srv.Devices(resetTestProduct, resetTestKey); len(devs) != 0 {
				t.Errorf("devices left after the reset: %v", devs)
			}
			if res.At.IsZero() || res.At.Location() != time.UTC {
				t.Errorf("At = %v, want a UTC time", res.At)
			}
		})
	}
}

// TestResetLicenseLostAnswer: when the answer to the reset is lost, the
// retry is answered "License not activated"; that is a success, and the
// devices freed are the ones read just before.
func TestResetLicenseLostAnswer(t *testing.T) {
	for _, version := range keymint.APIVersions {
		t.Run(version, func(t *testing.T) {
			var calls atomic.Int32
			srv, url := resetTestServer(t, []string{"a", "b", "c"}, func(*localserver.Server) bool {
				return calls.Add(1) > 1 // the first answer is lost
			})
			res, err := resetLicense(context.Background(), resetTestClient(t, url, version), resetTestProduct, resetTestKey, nil)
			if err != nil {
				t.Fatalf("reset after a lost answer: %v", err)
			}
			if n := calls.Load(); n != 2 {
				t.Errorf("%d deactivate calls, want 2 (the lost one and its retry)", n)
			}
			if res.Removed != 3 {
				t.Errorf("Removed = %d, want the 3 devices read before", res.Removed)
			}
			if devs, _ := srv.Devices(resetTestProduct, resetTestKey); len(devs) != 0 {
				t.Errorf("devices left after the reset: %v", devs)
			}
		})
	}
}
