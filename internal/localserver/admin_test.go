package localserver

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestMaskKey(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "****"},
		{"short", "****"},
		{"fifteen_chars_x", "****"},
		{"sixteen_chars_xy", "sixt…s_xy"},
		{"0B4ADFD8-8C47ECD0", "0B4A…ECD0"}, // the 17-character key of KeyMint's docs
		{"lk_d0123456789abcdef1234", "lk_d…1234"},
		{"ключ_лицензии_123456789", "ключ…6789"},
	} {
		if got := MaskKey(tc.in); got != tc.want {
			t.Errorf("MaskKey(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	alphabet := "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-é"
	for n := 1; n <= 300; n++ {
		var b strings.Builder
		for i := range n {
			b.WriteByte(alphabet[(i*7+n)%(len(alphabet)-2)])
		}
		key := b.String()
		masked := MaskKey(key)
		if strings.Contains(masked, key) {
			t.Fatalf("MaskKey reveals a whole %d-character key: %q", n, masked)
		}
		if shown := len([]rune(strings.ReplaceAll(masked, "…", ""))); masked != "****" && shown*2 > len([]rune(key)) {
			t.Fatalf("MaskKey shows %d of %d characters", shown, n)
		}
	}
}

func TestAdminHelpers(t *testing.T) {
	f := newFixture(t, "")
	s := f.srv

	if err := s.AddLicense(productA, LicenseSeed{Key: keyOther}); !errors.Is(err, errKeyExists) {
		t.Errorf("AddLicense of a key of another product: %v", err)
	}
	const fresh = "lk_fresh_license_012345678"
	const newProduct = "prod_created_by_addlicense"
	if err := s.AddLicense(newProduct, LicenseSeed{Key: fresh, MaxActivations: new(1)}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddLicense(newProduct, LicenseSeed{Key: fresh}); !errors.Is(err, errKeyExists) {
		t.Errorf("duplicate AddLicense: %v", err)
	}
	if err := s.ActivateDevice(newProduct, fresh, "host-1", "tag-1", "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	if err := s.ActivateDevice(newProduct, fresh, "host-1", "other-tag", "192.0.2.9"); err != nil {
		t.Errorf("idempotent ActivateDevice: %v", err)
	}
	if err := s.ActivateDevice(newProduct, fresh, "host-2", "", ""); !errors.Is(err, errLimitReached) {
		t.Errorf("ActivateDevice over the limit: %v", err)
	}
	if err := s.SetMaxActivations(newProduct, fresh, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.ActivateDevice(newProduct, fresh, "host-2", "", ""); err != nil {
		t.Errorf("ActivateDevice after lifting the limit: %v", err)
	}
	devices, err := s.Devices(newProduct, fresh)
	if err != nil {
		t.Fatal(err)
	}
	want := []Device{
		{HostID: "host-1", DeviceTag: "tag-1", IPAddress: "192.0.2.1", ActivationTime: testNow},
		{HostID: "host-2", ActivationTime: testNow},
	}
	if !slices.Equal(devices, want) {
		t.Errorf("Devices = %+v, want %+v", devices, want)
	}
	devices[0].HostID = "changed" // a copy
	if again, _ := s.Devices(newProduct, fresh); again[0].HostID != "host-1" {
		t.Error("Devices returned the server's own slice")
	}
	rows := s.Seats()
	if len(rows) != 2 || rows[0].HostID != "host-1" || rows[0].MaxActivations != nil || rows[0].MaskedKey != MaskKey(fresh) {
		t.Errorf("Seats = %+v", rows)
	}

	if err := s.DeactivateDevice(newProduct, fresh, "host-3"); !errors.Is(err, errDeviceNotFound) {
		t.Errorf("DeactivateDevice of an unknown host: %v", err)
	}
	if err := s.DeactivateDevice(newProduct, fresh, ""); err == nil {
		t.Error("DeactivateDevice with an empty host removed devices")
	}
	for _, h := range []string{"host-1", "host-2"} {
		if err := s.DeactivateDevice(newProduct, fresh, h); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeactivateDevice(newProduct, fresh, "host-1"); !errors.Is(err, errNotActivated) {
		t.Errorf("DeactivateDevice on an empty key: %v", err)
	}
	if err := s.SetMaxActivations(productA, keyLimited, new(-1)); !errors.Is(err, errNegativeLimit) {
		t.Errorf("negative limit: %v", err)
	}
	if err := s.ActivateDevice(productA, keyLimited, strings.Repeat("h", 65), "", ""); err == nil || !strings.Contains(err.Error(), "hostId must be 1-64") {
		t.Errorf("ActivateDevice with a long host: %v", err)
	}

	// Unknown keys, and keys never shown in errors.
	const unknown = "lk_unknown_key_0123456789"
	for name, err := range map[string]error{
		"SetBlocked":        s.SetBlocked(productA, unknown, true),
		"SetMaxActivations": s.SetMaxActivations(productA, unknown, nil),
		"ActivateDevice":    s.ActivateDevice(productA, unknown, "h", "", ""),
		"DeactivateDevice":  s.DeactivateDevice(productA, unknown, "h"),
		"Devices":           second(s.Devices(productA, unknown)),
		"Devices of other":  second(s.Devices(productA, keyOther)),
	} {
		if !errors.Is(err, errInvalidKey) {
			t.Errorf("%s: %v, want errInvalidKey", name, err)
		}
		if err != nil {
			noKeyIn(t, name+" error", err.Error(), unknown, keyOther)
		}
	}
	for _, err := range []error{
		s.AddLicense(productA, LicenseSeed{Key: keyLimited}),
		s.AddLicense(productA, LicenseSeed{Key: ""}),
		s.AddLicense(productA, LicenseSeed{Key: "lk_too_long_" + strings.Repeat("x", 256)}),
		s.AddLicense(productA, LicenseSeed{Key: "lk_negative_limit_0123456", MaxActivations: new(-2)}),
		s.ActivateDevice(productA, keyLimited, "", "", ""),
	} {
		if err == nil {
			t.Error("expected an error")
			continue
		}
		noKeyIn(t, "admin error", err.Error(), keyLimited, "lk_too_long_", "lk_negative_limit_0123456")
	}
	s.AddToken("")
	s.AddToken("at_another_token_0123456789")
	if status, _ := f.request("GET", "/_local/seats", "at_another_token_0123456789", nil); status != 200 {
		t.Errorf("added token refused: %d", status)
	}
	if status, _ := f.request("GET", "/_local/seats", " ", nil); status != 401 {
		t.Errorf("blank token accepted: %d", status)
	}
}

func second[T any](_ T, err error) error { return err }

func TestSeedIsCopied(t *testing.T) {
	seed := testSeed()
	s, err := New(Options{Seed: seed, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	*seed.Products[0].Licenses[0].MaxActivations = 100
	seed.Products[0].Licenses[0].Customer.Active = false
	for i := range 3 {
		err := s.ActivateDevice(productA, keyLimited, fmt.Sprint("host-", i), "", "")
		if i < 2 && err != nil || i == 2 && !errors.Is(err, errLimitReached) {
			t.Errorf("activation %d: %v", i, err)
		}
	}
}

func TestNewRejectsBadSeeds(t *testing.T) {
	lic := func(key string) []LicenseSeed { return []LicenseSeed{{Key: key}} }
	for name, seed := range map[string]Seed{
		"short product ID": {Products: []ProductSeed{{ID: "prod_short", Licenses: lic(keyLimited)}}},
		"empty key":        {Products: []ProductSeed{{ID: productA, Licenses: lic("")}}},
		"long key":         {Products: []ProductSeed{{ID: productA, Licenses: lic(strings.Repeat("k", 257))}}},
		"duplicate key": {Products: []ProductSeed{
			{ID: productA, Licenses: lic(keyLimited)},
			{ID: productB, Licenses: lic(keyLimited)},
		}},
		"negative limit": {Products: []ProductSeed{{ID: productA, Licenses: []LicenseSeed{{Key: keyLimited, MaxActivations: new(-1)}}}}},
		"empty token":    {AccessTokens: []string{""}},
	} {
		_, err := New(Options{Seed: seed})
		if err == nil {
			t.Errorf("%s: New succeeded", name)
			continue
		}
		noKeyIn(t, name, err.Error(), keyLimited, strings.Repeat("k", 257))
	}
	// The same product listed twice is merged.
	s, err := New(Options{Seed: Seed{Products: []ProductSeed{
		{ID: productA, Licenses: lic(keyLimited)},
		{ID: productA, Licenses: lic(keyUnlimited)},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{keyLimited, keyUnlimited} {
		if _, err := s.Devices(productA, k); err != nil {
			t.Error(err)
		}
	}
}

func TestLoadSeedFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "seed.json")
	content := `{
  "access_tokens": ["` + testToken + `"],
  "products": [{"id": "` + productA + `", "licenses": [
    {"key": "` + keyLimited + `", "max_activations": 3, "expiration_date": "2030-01-02T03:04:05Z",
     "customer": {"id": "cus_1", "name": "Jane", "email": "jane@example.com", "active": true}},
    {"key": "` + keyUnlimited + `", "blocked": true}
  ]}]
}`
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	seed, err := LoadSeedFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := Seed{AccessTokens: []string{testToken}, Products: []ProductSeed{{ID: productA, Licenses: []LicenseSeed{
		{Key: keyLimited, MaxActivations: new(3), ExpirationDate: new(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)),
			Customer: &Customer{ID: "cus_1", Name: "Jane", Email: "jane@example.com", Active: true}},
		{Key: keyUnlimited, Blocked: true},
	}}}}
	if !jsonEqual(seed, want) {
		t.Errorf("seed = %+v", seed)
	}

	for name, bad := range map[string]string{
		"unknown field": `{"access_tokens": [], "produkts": []}`,
		"not JSON":      `{`,
		"trailing data": `{} {}`,
	} {
		if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadSeedFile(path); err == nil {
			t.Errorf("%s: LoadSeedFile succeeded", name)
		}
	}
	if _, err := LoadSeedFile(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("LoadSeedFile of a missing file succeeded")
	}
}
