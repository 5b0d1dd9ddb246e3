package localserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// keyPaths are the paths that take a JSON body with productId and
// licenseKey, in both generations.
var keyPaths = []string{"/activate-key", "/deactivate-key", "/get-key", "/key/activate", "/key/deactivate"}

func TestUnauthorized(t *testing.T) {
	f := newFixture(t, "")
	valid := `{"productId":"` + productA + `","licenseKey":"` + keyLimited + `","hostId":"h1"}`
	headers := map[string]string{
		"missing":      "",
		"wrong token":  "Bearer at_wrong_token_0123456789",
		"wrong scheme": "Basic " + testToken,
		"empty token":  "Bearer ",
	}
	for _, path := range append(slices.Clone(keyPaths), "/_local/seats") {
		method := http.MethodPost
		if strings.HasPrefix(path, "/_local") {
			method = http.MethodGet
		}
		for name, h := range headers {
			req, _ := http.NewRequest(method, f.url+path, strings.NewReader(valid))
			if h != "" {
				req.Header.Set("Authorization", h)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&got)
			resp.Body.Close()
			wantError(t, path+" "+name, resp.StatusCode, got, 401, 1, "Invalid access token")
		}
	}
	if got, _ := f.srv.Devices(productA, keyLimited); len(got) != 0 {
		t.Errorf("unauthorized activation took a seat: %v", got)
	}
}

func TestAuthorizationSchemeIsCaseInsensitive(t *testing.T) {
	f := newFixture(t, "")
	req, _ := http.NewRequest(http.MethodGet, f.url+"/_local/seats", nil)
	req.Header.Set("Authorization", "bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("lower-case bearer: status %d", resp.StatusCode)
	}
}

func TestHealthNeedsNoToken(t *testing.T) {
	f := newFixture(t, "")
	status, raw := f.request(http.MethodGet, "/_local/health", "", nil)
	wantAnswer(t, "health", status, decodeObject(t, raw), 200, map[string]any{"status": "ok"})
}

// wantFrontEndError checks an answer of the web front end: the
// NestJS/Express shape, without KeyMint's numeric code.
func wantFrontEndError(t *testing.T, what string, status int, raw []byte, wantStatus int, method, path string) {
	t.Helper()
	got := decodeObject(t, raw)
	want := map[string]any{"message": "Cannot " + method + " " + path, "error": http.StatusText(wantStatus), "statusCode": wantStatus}
	wantAnswer(t, what, status, got, wantStatus, want)
	if _, ok := got["code"]; ok {
		t.Errorf("%s: the answer has a KeyMint code: %s", what, raw)
	}
}

func TestRouting(t *testing.T) {
	f := newFixture(t, "")
	for _, tc := range []struct{ method, path, token string }{
		{http.MethodPost, "/no-such-path", testToken},
		{http.MethodPost, "/no-such-path", ""},
		{http.MethodGet, "/", testToken},
		{http.MethodPost, "/wrong-prefix/activate-key", testToken},
		{http.MethodGet, "/_local/nope", testToken},
		{http.MethodGet, "/_local/", ""},
	} {
		status, raw := f.request(tc.method, tc.path, tc.token, strings.NewReader("{}"))
		wantFrontEndError(t, tc.method+" "+tc.path, status, raw, 404, tc.method, tc.path)
	}

	for _, tc := range []struct{ method, path, allow string }{
		{http.MethodGet, "/activate-key", "POST"},
		{http.MethodPut, "/get-key", "POST"},
		{http.MethodPost, "/_local/seats", "GET"},
		{http.MethodPost, "/_local/health", "GET"},
		{http.MethodGet, "/key/activate", "POST"},
		{http.MethodGet, "/key/deactivate", "POST"},
		{http.MethodDelete, "/key", "GET, PATCH, POST"},
		{http.MethodGet, "/create-key", "POST"},
		{http.MethodGet, "/key/block", "POST"},
		{http.MethodPatch, "/unblock-key", "POST"},
		{http.MethodDelete, "/_local/faults", "GET, PUT"},
		{http.MethodPost, "/_local/rate-limit", "GET, PUT"},
		{http.MethodGet, "/_local/calls/reset", "POST"},
		{http.MethodPost, "/_local/licenses", "GET"},
	} {
		for _, token := range []string{testToken, ""} {
			req, _ := http.NewRequest(tc.method, f.url+tc.path, nil)
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.Header.Get("Allow") != tc.allow {
				t.Errorf("%s %s: Allow %q; want %q", tc.method, tc.path, resp.Header.Get("Allow"), tc.allow)
			}
			wantFrontEndError(t, tc.method+" "+tc.path, resp.StatusCode, raw, 405, tc.method, tc.path)
		}
	}
	// They are API requests all the same, counted by path.
	if got := f.srv.Calls(); got["/no-such-path"] != 2 || got["/wrong-prefix/activate-key"] != 1 || got["/key"] != 2 || got["/_local/nope"] != 0 {
		t.Errorf("Calls() = %v", got)
	}
}

func TestBadBodies(t *testing.T) {
	f := newFixture(t, "")
	big := `{"productId":"` + productA + `","licenseKey":"` + keyLimited + `","hostId":"h1","pad":"` + strings.Repeat("x", 1<<20) + `"}`
	for _, tc := range []struct {
		name, body, message string
	}{
		{"not JSON", `{"productId":`, "Invalid JSON body"},
		{"empty", ``, "Invalid JSON body"},
		{"array", `[1,2]`, "Invalid JSON body"},
		{"wrong type", `{"productId":12345,"licenseKey":"` + keyLimited + `","hostId":"h1"}`, "productId must be a string"},
		{"too large", big, "Request body too large"},
	} {
		for _, path := range keyPaths {
			status, raw := f.request(http.MethodPost, path, testToken, strings.NewReader(tc.body))
			wantError(t, path+" "+tc.name, status, decodeObject(t, raw), 400, 1, tc.message)
		}
	}
}

func TestFieldValidation(t *testing.T) {
	const missing = "Missing required params"
	long := func(n int) string { return strings.Repeat("x", n) }
	type tc struct {
		name, path string
		set        map[string]any // fields replacing those of a valid body; nil value = leave out
		message    string         // "" = the request passes validation
	}
	var cases []tc
	for _, path := range keyPaths {
		cases = append(cases,
			tc{"productId missing", path, map[string]any{"productId": nil}, missing},
			tc{"productId empty", path, map[string]any{"productId": ""}, missing},
			tc{"productId short", path, map[string]any{"productId": long(21)}, "productId must be 22-256 characters"},
			tc{"productId long", path, map[string]any{"productId": long(257)}, "productId must be 22-256 characters"},
			tc{"licenseKey missing", path, map[string]any{"licenseKey": nil}, missing},
			tc{"licenseKey empty", path, map[string]any{"licenseKey": ""}, missing},
			tc{"licenseKey long", path, map[string]any{"licenseKey": long(257)}, "licenseKey must be 1-256 characters"},
			tc{"licenseKey 257 runes", path, map[string]any{"licenseKey": strings.Repeat("é", 257)}, "licenseKey must be 1-256 characters"},
		)
	}
	cases = append(cases,
		tc{"hostId missing", "/activate-key", map[string]any{"hostId": nil}, missing},
		tc{"hostId empty", "/activate-key", map[string]any{"hostId": ""}, missing},
		tc{"hostId long", "/activate-key", map[string]any{"hostId": long(65)}, "hostId must be 1-64 characters"},
		tc{"hostId 64 runes", "/activate-key", map[string]any{"hostId": strings.Repeat("é", 64)}, ""},
		tc{"deviceTag empty", "/activate-key", map[string]any{"deviceTag": ""}, "deviceTag must be 1-64 characters"},
		tc{"deviceTag long", "/activate-key", map[string]any{"deviceTag": long(65)}, "deviceTag must be 1-64 characters"},
		tc{"deviceTag 64 runes", "/activate-key", map[string]any{"deviceTag": strings.Repeat("ü", 64)}, ""},
		tc{"deactivate hostId empty", "/deactivate-key", map[string]any{"hostId": ""}, "hostId must be 1-64 characters"},
		tc{"deactivate hostId long", "/deactivate-key", map[string]any{"hostId": long(65)}, "hostId must be 1-64 characters"},
		tc{"get-key ignores hostId", "/get-key", map[string]any{"hostId": long(65)}, ""},
		// Generation 2: hostId is optional on activation too.
		tc{"hostId missing", "/key/activate", map[string]any{"hostId": nil}, ""},
		tc{"hostId empty", "/key/activate", map[string]any{"hostId": ""}, "hostId must be 1-64 characters"},
		tc{"hostId long", "/key/activate", map[string]any{"hostId": long(65)}, "hostId must be 1-64 characters"},
		tc{"deviceTag empty", "/key/activate", map[string]any{"deviceTag": ""}, "deviceTag must be 1-64 characters"},
		tc{"deviceTag long", "/key/activate", map[string]any{"deviceTag": long(65)}, "deviceTag must be 1-64 characters"},
		tc{"deactivate hostId empty", "/key/deactivate", map[string]any{"hostId": ""}, "hostId must be 1-64 characters"},
		tc{"deactivate hostId long", "/key/deactivate", map[string]any{"hostId": long(65)}, "hostId must be 1-64 characters"},
		tc{"deactivate hostId missing", "/key/deactivate", map[string]any{"hostId": nil}, ""},
	)
	for _, c := range cases {
		t.Run(c.path+" "+c.name, func(t *testing.T) {
			f := newFixture(t, "")
			b := map[string]any{"productId": productA, "licenseKey": keyUnlimited, "hostId": "host-1", "deviceTag": "tag"}
			if strings.Contains(c.path, "deactivate") {
				if err := f.srv.ActivateDevice(productA, keyUnlimited, "host-1", "", "10.0.0.1"); err != nil {
					t.Fatal(err)
				}
				delete(b, "deviceTag")
			}
			for k, v := range c.set {
				if v == nil {
					delete(b, k)
				} else {
					b[k] = v
				}
			}
			status, got := f.post(c.path, b)
			if c.message == "" {
				if status != 200 {
					t.Errorf("got %d %v, want 200", status, got)
				}
				return
			}
			wantError(t, c.name, status, got, 400, 1, c.message)
		})
	}
}

func TestUnknownKeys(t *testing.T) {
	f := newFixture(t, "")
	for _, tc := range []struct{ name, product, key string }{
		{"unknown product", "prod_zzzzzzzzzzzzzzzzzzzzzz", keyLimited},
		{"unknown key", productA, "lk_nosuchkey_0123456789abc"},
		{"key of another product", productA, keyOther},
	} {
		for _, path := range keyPaths {
			status, got := f.post(path, body(tc.product, tc.key, "host-1", ""))
			wantError(t, path+" "+tc.name, status, got, 404, 1, "Invalid license key")
		}
	}
}

func TestActivate(t *testing.T) {
	f := newFixture(t, "")
	status, got := f.post("/activate-key", body(productA, keyLimited, "host-1", "ci-runner"))
	wantAnswer(t, "activate", status, got, 200, okActivation("Jane Doe", "jane@example.com"))

	status, got = f.post("/activate-key", body(productA, keyUnlimited, "host-1", ""))
	wantAnswer(t, "activate without customer", status, got, 200, okActivation("", ""))

	devices, err := f.srv.Devices(productA, keyLimited)
	if err != nil {
		t.Fatal(err)
	}
	want := []Device{{HostID: "host-1", DeviceTag: "ci-runner", IPAddress: "127.0.0.1", ActivationTime: testNow}}
	if !slices.Equal(devices, want) {
		t.Errorf("devices = %+v, want %+v", devices, want)
	}
}

func TestReactivationIsIdempotent(t *testing.T) {
	f := newFixture(t, "")
	activate := func(host, tag string) (int, map[string]any) {
		t.Helper()
		return f.post("/activate-key", body(productA, keyLimited, host, tag))
	}
	activate("host-1", "first")
	f.clock.Advance(time.Hour)
	status, got := activate("host-1", "second")
	wantAnswer(t, "re-activation", status, got, 200, okActivation("Jane Doe", "jane@example.com"))

	activate("host-2", "")
	status, got = activate("host-3", "")
	wantError(t, "third host on a 2-seat key", status, got, 403, 2, "Activation limit reached")
	status, got = activate("host-1", "third")
	wantAnswer(t, "re-activation of a full key", status, got, 200, okActivation("Jane Doe", "jane@example.com"))

	devices, _ := f.srv.Devices(productA, keyLimited)
	want := []Device{
		{HostID: "host-1", DeviceTag: "first", IPAddress: "127.0.0.1", ActivationTime: testNow},
		{HostID: "host-2", IPAddress: "127.0.0.1", ActivationTime: testNow.Add(time.Hour)},
	}
	if !slices.Equal(devices, want) {
		t.Errorf("devices = %+v, want %+v", devices, want)
	}
}

func TestSeatLimit(t *testing.T) {
	f := newFixture(t, "")
	if err := f.srv.AddLicense(productA, LicenseSeed{Key: "lk_zero_seats_0123456789ab", MaxActivations: new(0)}); err != nil {
		t.Fatal(err)
	}
	status, got := f.post("/activate-key", body(productA, "lk_zero_seats_0123456789ab", "host-1", ""))
	wantError(t, "0-seat key", status, got, 403, 2, "Activation limit reached")

	f.post("/activate-key", body(productB, keyOther, "host-1", ""))
	status, got = f.post("/activate-key", body(productB, keyOther, "host-2", ""))
	wantError(t, "1-seat key, second host", status, got, 403, 2, "Activation limit reached")
}

func TestUnlimitedLicense(t *testing.T) {
	f := newFixture(t, "")
	for i := range 25 {
		if status, got := f.post("/activate-key", body(productA, keyUnlimited, fmt.Sprintf("host-%02d", i), "")); status != 200 {
			t.Fatalf("activation %d: %d %v", i, status, got)
		}
	}
	_, got := f.post("/get-key", body(productA, keyUnlimited, "", ""))
	lic := got["data"].(map[string]any)["license"].(map[string]any)
	if v, ok := lic["max_activations"]; !ok || v != nil {
		t.Errorf("max_activations = %v (present %v), want null", v, ok)
	}
	if lic["activations"] != 25.0 {
		t.Errorf("activations = %v, want 25", lic["activations"])
	}
}

func TestLicenseStateForbidsActivation(t *testing.T) {
	f := newFixture(t, "")
	for _, tc := range []struct{ key, message string }{
		{keyBlocked, "License is blocked"},
		{keyExpired, "License expired"},
		{keyInactive, "Customer is inactive"},
	} {
		status, got := f.post("/activate-key", body(productA, tc.key, "host-1", ""))
		wantError(t, tc.message, status, got, 403, 2, tc.message)
	}

	// State changes at run time: expiry by the clock, blocking by the admin helper.
	f.post("/activate-key", body(productA, keyExpiring, "host-1", ""))
	f.clock.Advance(2 * time.Hour)
	status, got := f.post("/activate-key", body(productA, keyExpiring, "host-1", ""))
	wantError(t, "expired after activation", status, got, 403, 2, "License expired")

	f.post("/activate-key", body(productA, keyUnlimited, "host-1", ""))
	if err := f.srv.SetBlocked(productA, keyUnlimited, true); err != nil {
		t.Fatal(err)
	}
	status, got = f.post("/activate-key", body(productA, keyUnlimited, "host-1", ""))
	wantError(t, "blocked after activation", status, got, 403, 2, "License is blocked")

	// Deactivation still works on blocked and expired keys.
	for _, key := range []string{keyUnlimited, keyExpiring} {
		status, got = f.post("/deactivate-key", body(productA, key, "host-1", ""))
		wantAnswer(t, "deactivate "+MaskKey(key), status, got, 200, map[string]any{"message": "Device deactivated", "code": 0})
	}
	if err := f.srv.SetBlocked(productA, keyUnlimited, false); err != nil {
		t.Fatal(err)
	}
	if status, got = f.post("/activate-key", body(productA, keyUnlimited, "host-1", "")); status != 200 {
		t.Errorf("unblocked key: %d %v", status, got)
	}
}

func TestDeactivate(t *testing.T) {
	f := newFixture(t, "")
	for _, h := range []string{"host-1", "host-2", "host-3"} {
		f.post("/activate-key", body(productA, keyUnlimited, h, ""))
	}
	status, got := f.post("/deactivate-key", body(productA, keyUnlimited, "host-2", ""))
	wantAnswer(t, "deactivate one", status, got, 200, map[string]any{"message": "Device deactivated", "code": 0})
	devices, _ := f.srv.Devices(productA, keyUnlimited)
	if hosts := hostIDs(devices); !slices.Equal(hosts, []string{"host-1", "host-3"}) {
		t.Errorf("hosts after deactivating host-2 = %v", hosts)
	}

	status, got = f.post("/deactivate-key", body(productA, keyUnlimited, "host-2", ""))
	wantError(t, "deactivate unknown host", status, got, 404, 1, "Device not found")

	status, got = f.post("/deactivate-key", body(productA, keyUnlimited, "", ""))
	wantAnswer(t, "deactivate all", status, got, 200, map[string]any{"message": "All devices deactivated", "code": 0})
	if devices, _ := f.srv.Devices(productA, keyUnlimited); len(devices) != 0 {
		t.Errorf("devices after deactivating all = %v", devices)
	}

	for _, host := range []string{"", "host-1"} {
		status, got = f.post("/deactivate-key", body(productA, keyUnlimited, host, ""))
		wantError(t, "deactivate without devices, hostId "+host, status, got, 403, 2, "License not activated")
	}
}

func hostIDs(devices []Device) []string {
	ids := make([]string, len(devices))
	for i, d := range devices {
		ids[i] = d.HostID
	}
	return ids
}

func TestGetKeyShape(t *testing.T) {
	f := newFixture(t, "")
	f.post("/activate-key", body(productA, keyLimited, "host-1", "ci"))
	f.clock.Advance(1500 * time.Millisecond)
	f.post("/activate-key", body(productA, keyLimited, "host-2", ""))

	status, raw := f.request(http.MethodPost, "/get-key", testToken,
		strings.NewReader(`{"productId":"`+productA+`","licenseKey":"`+keyLimited+`"}`))
	if status != 200 {
		t.Fatalf("get-key: %d %s", status, raw)
	}
	got := decodeObject(t, raw)
	checkSnakeCase(t, "", got)
	wantKeys(t, "answer", got, "code", "data")
	if got["code"] != 0.0 {
		t.Errorf("code = %v", got["code"])
	}
	data := got["data"].(map[string]any)
	wantKeys(t, "data", data, "license", "customer")
	lic := data["license"].(map[string]any)
	wantKeys(t, "license", lic, "id", "key", "product_id", "max_activations", "activations", "devices", "activated", "expiration_date")
	id, _ := lic["id"].(string)
	if !regexp.MustCompile(`^lic_[0-9a-f]{16}$`).MatchString(id) {
		t.Errorf("id = %q", id)
	}
	wantFields(t, "license", lic, map[string]any{
		"key": keyLimited, "product_id": productA, "max_activations": 2, "activations": 2,
		"activated": true, "expiration_date": nil,
	})
	devices, ok := lic["devices"].([]any)
	if !ok || len(devices) != 2 {
		t.Fatalf("devices = %#v", lic["devices"])
	}
	wantFields(t, "device 0", devices[0].(map[string]any), map[string]any{
		"host_id": "host-1", "device_tag": "ci", "ip_address": "127.0.0.1", "activation_time": "2025-06-01T12:00:00.000Z",
	})
	wantFields(t, "device 1", devices[1].(map[string]any), map[string]any{
		"host_id": "host-2", "device_tag": nil, "ip_address": "127.0.0.1", "activation_time": "2025-06-01T12:00:01.500Z",
	})
	for i, d := range devices {
		wantKeys(t, fmt.Sprintf("device %d", i), d.(map[string]any), "host_id", "device_tag", "ip_address", "activation_time")
		if _, err := time.Parse(time.RFC3339, d.(map[string]any)["activation_time"].(string)); err != nil {
			t.Errorf("activation_time: %v", err)
		}
	}
	wantFields(t, "customer", data["customer"].(map[string]any), map[string]any{
		"id": "cus_jane", "name": "Jane Doe", "email": "jane@example.com", "active": true,
	})

	// A key without devices or customer, blocked, with an expiration date.
	_, got = f.post("/get-key", body(productA, keyBlocked, "", ""))
	data = got["data"].(map[string]any)
	if v, ok := data["customer"]; !ok || v != nil {
		t.Errorf("customer = %v (present %v), want null", v, ok)
	}
	lic = data["license"].(map[string]any)
	if d, ok := lic["devices"].([]any); !ok || len(d) != 0 {
		t.Errorf("devices = %#v, want []", lic["devices"])
	}
	wantFields(t, "blocked license", lic, map[string]any{"activated": false, "activations": 0})
	_, got = f.post("/get-key", body(productA, keyExpiring, "", ""))
	lic = got["data"].(map[string]any)["license"].(map[string]any)
	wantFields(t, "expiring license", lic, map[string]any{"expiration_date": "2025-06-01T13:00:00.000Z"})
	if lic["id"] == id {
		t.Errorf("two licenses share the id %v", id)
	}

	// The id is stable.
	_, got = f.post("/get-key", body(productA, keyLimited, "", ""))
	if again := got["data"].(map[string]any)["license"].(map[string]any)["id"]; again != id {
		t.Errorf("id changed from %v to %v", id, again)
	}
}

// The casings of the two generations.
var (
	snakeCase = regexp.MustCompile(`^[a-z]+(_[a-z]+)*$`)
	camelCase = regexp.MustCompile(`^[a-z]+([A-Z][a-z]*)*$`)
)

// checkSnakeCase checks every object key in v, recursively.
func checkSnakeCase(t *testing.T, path string, v any) {
	t.Helper()
	checkCase(t, snakeCase, "snake_case", path, v)
}

// checkCamelCase checks every object key in v, recursively.
func checkCamelCase(t *testing.T, path string, v any) {
	t.Helper()
	checkCase(t, camelCase, "camelCase", path, v)
}

// checkCase checks that every object key in v, recursively, matches re.
func checkCase(t *testing.T, re *regexp.Regexp, casing, path string, v any) {
	t.Helper()
	switch v := v.(type) {
	case map[string]any:
		for k, child := range v {
			if !re.MatchString(k) {
				t.Errorf("key %q at %q is not %s", k, path, casing)
			}
			checkCase(t, re, casing, path+"."+k, child)
		}
	case []any:
		for i, child := range v {
			checkCase(t, re, casing, fmt.Sprintf("%s[%d]", path, i), child)
		}
	}
}

// wantKeys checks that m has exactly the given keys.
func wantKeys(t *testing.T, what string, m map[string]any, keys ...string) {
	t.Helper()
	got := make([]string, 0, len(m))
	for k := range m {
		got = append(got, k)
	}
	slices.Sort(got)
	slices.Sort(keys)
	if !slices.Equal(got, keys) {
		t.Errorf("%s keys = %v, want %v", what, got, keys)
	}
}

// wantFields checks the given fields of m (a nil want means JSON null).
func wantFields(t *testing.T, what string, m map[string]any, want map[string]any) {
	t.Helper()
	for k, w := range want {
		v, ok := m[k]
		if !ok || !jsonEqual(v, w) {
			t.Errorf("%s.%s = %#v (present %v), want %#v", what, k, v, ok, w)
		}
	}
}

func TestSeatsEndpoint(t *testing.T) {
	f := newFixture(t, "")
	status, raw := f.request(http.MethodGet, "/_local/seats", testToken, nil)
	if status != 200 || strings.TrimSpace(string(raw)) != "[]" {
		t.Errorf("empty seats: %d %s, want 200 []", status, raw)
	}
	f.post("/activate-key", body(productB, keyOther, "host-b", ""))
	f.post("/activate-key", body(productA, keyUnlimited, "host-2", "tag"))
	f.post("/activate-key", body(productA, keyLimited, "host-1", ""))
	status, raw = f.request(http.MethodGet, "/_local/seats", testToken, nil)
	if status != 200 {
		t.Fatalf("seats: %d %s", status, raw)
	}
	noKeyIn(t, "/_local/seats", string(raw), keyOther, keyUnlimited, keyLimited, testToken)
	var rows []map[string]any
	if err := json.Unmarshal(raw, &rows); err != nil {
		t.Fatal(err)
	}
	checkSnakeCase(t, "", rows)
	want := []map[string]any{
		{"product_id": productA, "masked_key": MaskKey(keyLimited), "host_id": "host-1", "device_tag": "", "ip_address": "127.0.0.1", "activation_time": "2025-06-01T12:00:00Z", "max_activations": 2, "blocked": false},
		{"product_id": productA, "masked_key": MaskKey(keyUnlimited), "host_id": "host-2", "device_tag": "tag", "ip_address": "127.0.0.1", "activation_time": "2025-06-01T12:00:00Z", "max_activations": nil, "blocked": false},
		{"product_id": productB, "masked_key": MaskKey(keyOther), "host_id": "host-b", "device_tag": "", "ip_address": "127.0.0.1", "activation_time": "2025-06-01T12:00:00Z", "max_activations": 1, "blocked": false},
	}
	if !jsonEqual(rows, want) {
		t.Errorf("seats = %v\nwant    %v", rows, want)
	}
}

func TestCalls(t *testing.T) {
	f := newFixture(t, "")
	f.post("/activate-key", body(productA, keyLimited, "host-1", ""))
	f.post("/activate-key", body(productA, keyLimited, "", ""))      // 400
	f.request(http.MethodPost, "/get-key", "", bytes.NewReader(nil)) // 401
	f.request(http.MethodGet, "/nope", testToken, nil)               // 404
	f.request(http.MethodGet, "/key?productId="+productA+"&licenseKey="+keyLimited, testToken, nil)
	// The local aids are not counted, not even unknown ones.
	f.request(http.MethodGet, "/_local/health", "", nil)
	f.request(http.MethodGet, "/_local/seats", testToken, nil)
	f.request(http.MethodGet, "/_local/nope", testToken, nil)
	want := map[string]int{"/activate-key": 2, "/get-key": 1, "/nope": 1, "/key": 1}
	if got := f.srv.Calls(); !jsonEqual(got, want) {
		t.Errorf("Calls() = %v, want %v", got, want)
	}
	if got := f.srv.TotalCalls(); got != 5 {
		t.Errorf("TotalCalls() = %d, want 5", got)
	}
	f.srv.ResetCalls()
	if got := f.srv.TotalCalls(); got != 0 || len(f.srv.Calls()) != 0 {
		t.Errorf("after ResetCalls: %d %v", got, f.srv.Calls())
	}
}

func TestErrorAnswersNeverEchoKeys(t *testing.T) {
	f := newFixture(t, "")
	for _, b := range []map[string]any{
		body(productA, "lk_nosuchkey_0123456789abc", "host-1", ""),
		body(productA, strings.Repeat("k", 300), "host-1", ""),
		body(productA, keyBlocked, "host-1", ""),
		body(productA, keyLimited, strings.Repeat("h", 65), ""),
	} {
		for _, path := range keyPaths {
			data, _ := json.Marshal(b)
			status, raw := f.request(http.MethodPost, path, testToken, bytes.NewReader(data))
			if status == 200 {
				continue // get-key returns the key it was asked for
			}
			noKeyIn(t, path+" answer", string(raw), b["licenseKey"].(string), testToken)
		}
	}
}

// TestShortKeys: keys of custom formats, as short as 1 character (such as
// the 17-character 0B4ADFD8-8C47ECD0 of KeyMint's docs), work in every
// call of both generations, and the local aids never show them.
func TestShortKeys(t *testing.T) {
	const docsKey = "0B4ADFD8-8C47ECD0"
	keys := []string{"Z", "AB-CD", docsKey, strings.Repeat("k", 22), strings.Repeat("é", 256)}
	f := newFixture(t, "")
	for _, key := range keys {
		if err := f.srv.AddLicense(productB, LicenseSeed{Key: key, MaxActivations: new(2)}); err != nil {
			t.Fatalf("AddLicense of a %d-character key: %v", len([]rune(key)), err)
		}
	}
	seeded, err := New(Options{Seed: Seed{Products: []ProductSeed{{ID: productA, Licenses: []LicenseSeed{{Key: "Z"}, {Key: docsKey}}}}}})
	if err != nil {
		t.Fatalf("a seed with short keys: %v", err)
	}
	if n := len(seeded.Licenses()); n != 2 {
		t.Errorf("the seed has %d licenses, want 2", n)
	}
	for _, key := range keys {
		what := fmt.Sprintf("%d-character key", len([]rune(key)))
		status, got := f.post("/activate-key", body(productB, key, "host-1", ""))
		wantAnswer(t, what+" /activate-key", status, got, 200, okActivation("", ""))
		status, got = f.post("/key/activate", body(productB, key, "host-2", ""))
		wantAnswer(t, what+" /key/activate", status, got, 200, okActivationV2("", "", "host-2"))
		_, got = f.post("/get-key", body(productB, key, "", ""))
		if lic, _ := got["data"].(map[string]any)["license"].(map[string]any); lic["key"] != key || lic["activations"] != 2.0 {
			t.Errorf("%s /get-key: %v", what, got)
		}
		_, got = f.getKeyV2(productB, key, "")
		if lic, _ := got["data"].(map[string]any)["license"].(map[string]any); lic["key"] != key {
			t.Errorf("%s GET /key: %v", what, got)
		}
		status, got = f.post("/deactivate-key", body(productB, key, "host-1", ""))
		wantAnswer(t, what+" /deactivate-key", status, got, 200, map[string]any{"message": "Device deactivated", "code": 0})
		status, got = f.post("/key/deactivate", body(productB, key, "", ""))
		wantAnswer(t, what+" /key/deactivate", status, got, 200, map[string]any{"message": "All devices deactivated", "code": 0, "devicesRemoved": 1})
	}
	for _, row := range f.srv.Licenses() {
		for _, key := range keys {
			if row.MaskedKey == key || (len([]rune(key)) < 16 && row.MaskedKey != "****" && strings.Contains(row.MaskedKey, key)) {
				t.Errorf("Licenses shows a key in full: %+v", row)
			}
		}
	}
	if m := MaskKey(docsKey); strings.Contains(m, docsKey) {
		t.Errorf("MaskKey(%q) = %q", docsKey, m)
	}
}
