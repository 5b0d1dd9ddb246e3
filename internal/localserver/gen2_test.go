package localserver

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// getKeyV2 sends GET /key for productID with the key in the header and/or
// the query parameter ("" = left out) and decodes the answer.
func (f *fixture) getKeyV2(productID, headerKey, queryKey string) (int, map[string]any) {
	f.t.Helper()
	q := url.Values{}
	if productID != "" {
		q.Set("productId", productID)
	}
	if queryKey != "" {
		q.Set("licenseKey", queryKey)
	}
	resp, raw, err := f.try(http.MethodGet, "/key?"+q.Encode(), testToken, nil, func(r *http.Request) {
		if headerKey != "" {
			r.Header.Set("x-license-key", headerKey)
		}
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return resp.StatusCode, decodeObject(f.t, raw)
}

func okActivationV2(name, email, hostID string) map[string]any {
	return map[string]any{"code": 0, "message": "License valid", "licenseeName": name, "licenseeEmail": email, "metadata": map[string]any{"hostId": hostID}}
}

func TestActivateV2(t *testing.T) {
	f := newFixture(t, "")
	status, got := f.post("/key/activate", body(productA, keyLimited, "host-1", "ci-runner"))
	wantAnswer(t, "activate", status, got, 200, okActivationV2("Jane Doe", "jane@example.com", "host-1"))
	f.clock.Advance(time.Hour)
	status, got = f.post("/key/activate", body(productA, keyLimited, "host-1", "other"))
	wantAnswer(t, "re-activation", status, got, 200, okActivationV2("Jane Doe", "jane@example.com", "host-1"))
	f.post("/key/activate", body(productA, keyLimited, "host-2", ""))
	status, got = f.post("/key/activate", body(productA, keyLimited, "host-3", ""))
	wantError(t, "third host on a 2-seat key", status, got, 403, 2, "Activation limit reached")

	status, got = f.post("/key/activate", body(productA, keyUnlimited, "host-1", ""))
	wantAnswer(t, "activate without customer", status, got, 200, okActivationV2("", "", "host-1"))

	devices, _ := f.srv.Devices(productA, keyLimited)
	want := []Device{
		{HostID: "host-1", DeviceTag: "ci-runner", IPAddress: "127.0.0.1", ActivationTime: testNow},
		{HostID: "host-2", IPAddress: "127.0.0.1", ActivationTime: testNow.Add(time.Hour)},
	}
	if !slices.Equal(devices, want) {
		t.Errorf("devices = %+v, want %+v", devices, want)
	}

	for _, tc := range []struct{ key, message string }{
		{keyBlocked, "License is blocked"},
		{keyExpired, "License expired"},
		{keyInactive, "Customer is inactive"},
	} {
		status, got := f.post("/key/activate", body(productA, tc.key, "host-1", ""))
		wantError(t, tc.message, status, got, 403, 2, tc.message)
	}
}

func TestActivateV2WithoutHostInventsOne(t *testing.T) {
	f := newFixture(t, "")
	autoHost := regexp.MustCompile(`^auto-[0-9a-f]{16}$`)
	var hosts []string
	for range 2 {
		status, got := f.post("/key/activate", body(productA, keyLimited, "", ""))
		host, _ := got["metadata"].(map[string]any)["hostId"].(string)
		if status != 200 || !autoHost.MatchString(host) {
			t.Fatalf("activation without hostId: %d %v", status, got)
		}
		hosts = append(hosts, host)
	}
	// Each activation without a hostId burns a seat, like the real service.
	devices, _ := f.srv.Devices(productA, keyLimited)
	if got := hostIDs(devices); !slices.Equal(got, hosts) || hosts[0] == hosts[1] {
		t.Errorf("devices %v, activated hosts %v", got, hosts)
	}
	status, got := f.post("/key/activate", body(productA, keyLimited, "", ""))
	wantError(t, "full key", status, got, 403, 2, "Activation limit reached")
}

func TestDeactivateV2(t *testing.T) {
	f := newFixture(t, "")
	for _, h := range []string{"host-1", "host-2", "host-3"} {
		f.post("/key/activate", body(productA, keyUnlimited, h, ""))
	}
	status, got := f.post("/key/deactivate", body(productA, keyUnlimited, "host-2", ""))
	wantAnswer(t, "deactivate one", status, got, 200, map[string]any{"message": "Device deactivated", "code": 0, "devicesRemoved": 1})
	status, got = f.post("/key/deactivate", body(productA, keyUnlimited, "host-2", ""))
	wantError(t, "deactivate unknown host", status, got, 404, 1, "Device not found")
	status, got = f.post("/key/deactivate", body(productA, keyUnlimited, "", ""))
	wantAnswer(t, "deactivate all", status, got, 200, map[string]any{"message": "All devices deactivated", "code": 0, "devicesRemoved": 2})
	for _, host := range []string{"", "host-1"} {
		status, got = f.post("/key/deactivate", body(productA, keyUnlimited, host, ""))
		wantError(t, "deactivate without devices, hostId "+host, status, got, 403, 2, "License not activated")
	}
	// Deactivation works on blocked keys too.
	if err := f.srv.ActivateDevice(productA, keyLimited, "host-1", "", ""); err != nil {
		t.Fatal(err)
	}
	if err := f.srv.SetBlocked(productA, keyLimited, true); err != nil {
		t.Fatal(err)
	}
	status, got = f.post("/key/deactivate", body(productA, keyLimited, "host-1", ""))
	wantAnswer(t, "deactivate on a blocked key", status, got, 200, map[string]any{"message": "Device deactivated", "code": 0, "devicesRemoved": 1})
}

func TestGetKeyV2(t *testing.T) {
	f := newFixture(t, "")
	f.post("/key/activate", body(productA, keyLimited, "host-1", "ci"))
	f.clock.Advance(1500 * time.Millisecond)
	f.post("/activate-key", body(productA, keyLimited, "host-2", "")) // generations share the store

	status, got := f.getKeyV2(productA, keyLimited, "")
	if status != 200 {
		t.Fatalf("get key: %d %v", status, got)
	}
	checkCamelCase(t, "", got)
	wantKeys(t, "answer", got, "code", "data")
	data := got["data"].(map[string]any)
	wantKeys(t, "data", data, "license", "customer")
	lic := data["license"].(map[string]any)
	wantKeys(t, "license", lic, "id", "key", "productId", "maxActivations", "activations", "devices", "activated", "expirationDate")
	_, v1 := f.post("/get-key", body(productA, keyLimited, "", ""))
	wantFields(t, "license", lic, map[string]any{
		"id": v1["data"].(map[string]any)["license"].(map[string]any)["id"], "key": keyLimited, "productId": productA,
		"maxActivations": 2, "activations": 2, "activated": true, "expirationDate": nil,
		"devices": []any{
			map[string]any{"hostId": "host-1", "deviceTag": "ci", "ipAddress": "127.0.0.1", "activationTime": "2025-06-01T12:00:00.000Z"},
			map[string]any{"hostId": "host-2", "deviceTag": nil, "ipAddress": "127.0.0.1", "activationTime": "2025-06-01T12:00:01.500Z"},
		},
	})
	wantFields(t, "customer", data["customer"].(map[string]any), map[string]any{
		"id": "cus_jane", "name": "Jane Doe", "email": "jane@example.com", "active": true,
	})

	// No devices, no customer, blocked, unlimited, expiring.
	_, got = f.getKeyV2(productA, keyBlocked, "")
	wantFields(t, "blocked key", got["data"].(map[string]any), map[string]any{"customer": nil})
	wantFields(t, "blocked license", got["data"].(map[string]any)["license"].(map[string]any), map[string]any{"activated": false, "activations": 0, "devices": []any{}})
	_, got = f.getKeyV2(productA, keyUnlimited, "")
	wantFields(t, "unlimited license", got["data"].(map[string]any)["license"].(map[string]any), map[string]any{"maxActivations": nil})
	_, got = f.getKeyV2(productA, keyExpiring, "")
	wantFields(t, "expiring license", got["data"].(map[string]any)["license"].(map[string]any), map[string]any{"expirationDate": "2025-06-01T13:00:00.000Z"})
}

func TestGetKeyV2KeySources(t *testing.T) {
	f := newFixture(t, "")
	const unknown = "lk_nosuchkey_0123456789abc"
	keyOf := func(got map[string]any) any {
		data, _ := got["data"].(map[string]any)
		lic, _ := data["license"].(map[string]any)
		return lic["key"]
	}
	for _, tc := range []struct {
		name, header, query string
		status              int
	}{
		{"header", keyLimited, "", 200},
		{"query parameter of older clients", "", keyLimited, 200},
		{"header wins over query", keyLimited, unknown, 200},
		{"header wins, even when wrong", unknown, keyLimited, 404},
	} {
		status, got := f.getKeyV2(productA, tc.header, tc.query)
		if status != tc.status || (status == 200 && keyOf(got) != keyLimited) {
			t.Errorf("%s: %d %v, want %d", tc.name, status, got, tc.status)
		}
	}
}

func TestGetKeyV2Errors(t *testing.T) {
	f := newFixture(t, "")
	long := func(n int) string { return strings.Repeat("x", n) }
	for _, tc := range []struct {
		name, product, key string
		status             int
		message            string
	}{
		{"no productId", "", keyLimited, 400, "Missing required params"},
		{"no key", productA, "", 400, "Missing required params"},
		{"short productId", "prod_short", keyLimited, 400, "productId must be 22-256 characters"},
		{"long productId", "p" + long(256), keyLimited, 400, "productId must be 22-256 characters"},
		{"long key", productA, long(257), 400, "licenseKey must be 1-256 characters"},
		{"unknown short key", productA, "lk_short", 404, "Invalid license key"},
		{"unknown key", productA, "lk_nosuchkey_0123456789abc", 404, "Invalid license key"},
		{"key of another product", productA, keyOther, 404, "Invalid license key"},
	} {
		status, got := f.getKeyV2(tc.product, tc.key, "")
		wantError(t, tc.name, status, got, tc.status, 1, tc.message)
		noKeyIn(t, tc.name, fmt.Sprint(got), keyOther, "lk_nosuchkey_0123456789abc")
	}
	resp, raw, err := f.try(http.MethodGet, "/key?productId="+productA, "", nil, func(r *http.Request) { r.Header.Set("x-license-key", keyLimited) })
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, "no token", resp.StatusCode, decodeObject(t, raw), 401, 1, "Invalid access token")
}

// TestCasing checks every answer of both generations, successes and
// errors: generation 1 in snake_case, generation 2 in camelCase.
func TestCasing(t *testing.T) {
	f := newFixture(t, "")
	post := func(path string, b map[string]any) map[string]any {
		t.Helper()
		_, got := f.post(path, b)
		return got
	}
	answers1 := []map[string]any{
		post("/activate-key", body(productA, keyLimited, "host-1", "tag")),
		post("/activate-key", body(productA, keyExpiring, "host-1", "")),
		post("/get-key", body(productA, keyLimited, "", "")),
		post("/get-key", body(productA, keyExpiring, "", "")),
		post("/deactivate-key", body(productA, keyLimited, "host-1", "")),
		post("/deactivate-key", body(productA, keyExpiring, "", "")),
		post("/activate-key", body(productA, keyBlocked, "host-1", "")),
	}
	answers2 := []map[string]any{
		post("/key/activate", body(productA, keyLimited, "host-1", "tag")),
		post("/key/activate", body(productA, keyExpiring, "", "")),
		answerOf(f.getKeyV2(productA, keyLimited, "")),
		answerOf(f.getKeyV2(productA, keyExpiring, "")),
		post("/key/deactivate", body(productA, keyLimited, "host-1", "")),
		post("/key/deactivate", body(productA, keyExpiring, "", "")),
		post("/key/activate", body(productA, keyBlocked, "host-1", "")),
		answerOf(f.getKeyV2(productA, "", "")),
	}
	for i, a := range answers1 {
		checkSnakeCase(t, fmt.Sprintf("generation 1, answer %d", i), a)
	}
	for i, a := range answers2 {
		checkCamelCase(t, fmt.Sprintf("generation 2, answer %d", i), a)
	}
}

// answerOf returns the decoded answer of a (status, answer) pair.
func answerOf(_ int, answer map[string]any) map[string]any { return answer }
