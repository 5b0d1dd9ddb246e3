package provider

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keymint-dev/terraform-provider-keymint/internal/keymint"
	"github.com/keymint-dev/terraform-provider-keymint/internal/localserver"
)

// TestResetLicenseCounts: devices_removed is the server's devicesRemoved
// where it sends one (generation 2), otherwise the count read just before
// (generation 1). A device activated between that read and the reset tells
// the two apart: the server frees and counts it, the earlier read cannot.
func TestResetLicenseCounts(t *testing.T) {
	const (
		token   = "at_reset_test_token"
		product = "prod_reset_test_0000000"
		key     = "lk_reset_test_00000000000"
	)
	for _, tt := range []struct {
		version string
		want    int64
	}{
		{keymint.APIv1, 2}, // no devicesRemoved: the count read before
		{keymint.APIv2, 3}, // the server's count, the late device included
	} {
		t.Run(tt.version, func(t *testing.T) {
			srv, err := localserver.New(localserver.Options{Seed: localserver.Seed{
				AccessTokens: []string{token},
				Products:     []localserver.ProductSeed{{ID: product, Licenses: []localserver.LicenseSeed{{Key: key}}}},
			}})
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range []string{"early-1", "early-2"} {
				if err := srv.ActivateDevice(product, key, h, "", "10.0.0.1"); err != nil {
					t.Fatal(err)
				}
			}
			api := srv.Handler()
			hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.Contains(r.URL.Path, "deactivate") {
					// Another machine activates just before the reset arrives.
					if err := srv.ActivateDevice(product, key, "late", "", "10.0.0.2"); err != nil {
						t.Error(err)
					}
				}
				api.ServeHTTP(w, r)
			}))
			defer hs.Close()
			client, err := keymint.New(keymint.Config{BaseURL: hs.URL, AccessToken: token, APIVersion: tt.version})
			if err != nil {
				t.Fatal(err)
			}

			var seen int64 = -1
			res, err := resetLicense(context.Background(), client, product, key, func(l *keymint.License) { seen = deviceCount(l) })
			if err != nil {
				t.Fatal(err)
			}
			if seen != 2 {
				t.Errorf("before saw %d devices, want 2", seen)
			}
			if res.Removed != tt.want {
				t.Errorf("Removed = %d, want %d", res.Removed, tt.want)
			}
			if devs, _ := srv.Devices(product, key); len(devs) != 0 {
				t.Errorf("devices left after the reset: %v", devs)
			}
			if res.At.IsZero() || res.At.Location().String() != "UTC" {
				t.Errorf("At = %v, want a UTC time", res.At)
			}
		})
	}
}
