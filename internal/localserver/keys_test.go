package localserver

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// send sends an authenticated request with body encoded as JSON and
// decodes the answer; header, when not empty, is the Idempotency-Key.
func (f *fixture) send(method, path, token string, body any, idempotencyKey ...string) (int, map[string]any) {
	f.t.Helper()
	resp, raw, err := f.try(method, path, token, body, func(r *http.Request) {
		r.Header.Set("Content-Type", "application/json")
		if len(idempotencyKey) > 0 {
			r.Header.Set("Idempotency-Key", idempotencyKey[0])
		}
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return resp.StatusCode, decodeObject(f.t, raw)
}

// createPaths are the create calls of both generations.
var createPaths = []string{"/create-key", "/key"}

// created returns the key of a successful create answer, failing the test
// otherwise.
func created(t *testing.T, what string, status int, got map[string]any) string {
	t.Helper()
	key, _ := got["key"].(string)
	if status != 200 || key == "" || got["code"] != 0.0 || len(got) != 2 {
		t.Fatalf("%s: %d %v, want 200 {code:0, key}", what, status, got)
	}
	return key
}

// license returns the server's view of a key, failing the test if it has none.
func (f *fixture) license(productID, key string) licenseView {
	f.t.Helper()
	v, err := f.srv.license(productID, key)
	if err != nil {
		f.t.Fatalf("license %s: %v", MaskKey(key), err)
	}
	return v
}

var defaultKeyShape = regexp.MustCompile(`^[A-Z0-9]{5}(-[A-Z0-9]{5}){3}$`)

func TestCreateKey(t *testing.T) {
	for _, path := range createPaths {
		t.Run(path, func(t *testing.T) {
			f := newFixture(t, "")
			status, got := f.send(http.MethodPost, path, testToken, map[string]any{"productId": productA, "maxActivations": "3"})
			key := created(t, "create", status, got)
			if !defaultKeyShape.MatchString(key) {
				t.Errorf("key %q is not in the default format XXXXX-XXXXX-XXXXX-XXXXX", key)
			}
			v := f.license(productA, key)
			// Without expiryDate, the key expires one month after its creation.
			wantExpiry := testNow.AddDate(0, 1, 0)
			if v.MaxActivations == nil || *v.MaxActivations != 3 || v.ExpirationDate == nil || !v.ExpirationDate.Equal(wantExpiry) ||
				v.Customer != nil || v.Blocked || len(v.Devices) != 0 {
				t.Errorf("created license = %+v, want 3 seats, expiring %v, no customer", v.LicenseSeed, wantExpiry)
			}
			// The key works at once, and get-key reports it.
			if status, got := f.post("/key/activate", body(productA, key, "host-1", "")); status != 200 {
				t.Errorf("activating the created key: %d %v", status, got)
			}
			_, got = f.getKeyV2(productA, key, "")
			lic := got["data"].(map[string]any)["license"].(map[string]any)
			wantFields(t, "get-key", lic, map[string]any{
				"key": key, "maxActivations": 3, "activations": 1, "activated": true, "expirationDate": "2025-07-01T12:00:00.000Z",
			})
			if keys := f.srv.Licenses(); len(keys) != 8 {
				t.Errorf("Licenses() lists %d keys, want the 7 seeded and the created one", len(keys))
			}

			// maxActivations: a numeric string, a number, or null for unlimited.
			for _, tc := range []struct {
				value any
				want  *int
			}{{"12", new(12)}, {7, new(7)}, {nil, nil}} {
				_, got := f.send(http.MethodPost, path, testToken, map[string]any{"productId": productA, "maxActivations": tc.value})
				v := f.license(productA, created(t, "create", 200, got))
				if (v.MaxActivations == nil) != (tc.want == nil) || (tc.want != nil && *v.MaxActivations != *tc.want) {
					t.Errorf("maxActivations %#v: limit %v", tc.value, v.MaxActivations)
				}
			}
			_, got = f.send(http.MethodPost, path, testToken, map[string]any{"productId": productA})
			if v := f.license(productA, created(t, "create", 200, got)); v.MaxActivations != nil {
				t.Errorf("no maxActivations: limit %d, want unlimited", *v.MaxActivations)
			}
			// An expiry date and metadata.
			_, got = f.send(http.MethodPost, path, testToken, map[string]any{
				"productId": productA, "expiryDate": "2030-12-31T23:59:59Z", "metadata": map[string]any{"env": "prod", "n": 2},
			})
			key = created(t, "create", 200, got)
			if v := f.license(productA, key); v.ExpirationDate == nil || !v.ExpirationDate.Equal(time.Date(2030, 12, 31, 23, 59, 59, 0, time.UTC)) {
				t.Errorf("expiry = %v", v.ExpirationDate)
			}
			if m, _ := f.srv.Metadata(productA, key); !jsonEqual(m, map[string]any{"env": "prod", "n": 2}) {
				t.Errorf("metadata = %v", m)
			}
		})
	}
}

func TestCreateKeyRefusals(t *testing.T) {
	f := newFixture(t, "")
	for _, tc := range []struct {
		name    string
		body    map[string]any
		status  int
		code    int
		message string
	}{
		{"no product", map[string]any{"maxActivations": "2"}, 400, 1, "Missing required params"},
		{"short product", map[string]any{"productId": "prod_short"}, 400, 1, "productId must be 22-256 characters"},
		{"unknown product", map[string]any{"productId": "prod_unknown_0123456789abc"}, 404, 1, "Product not found or inactive"},
		{"zero seats", map[string]any{"productId": productA, "maxActivations": "0"}, 400, 1, ""},
		{"words", map[string]any{"productId": productA, "maxActivations": "five"}, 400, 1, ""},
		{"fraction", map[string]any{"productId": productA, "maxActivations": 1.5}, 400, 1, ""},
		{"negative", map[string]any{"productId": productA, "maxActivations": "-1"}, 400, 1, ""},
		{"boolean", map[string]any{"productId": productA, "maxActivations": true}, 400, 1, ""},
		{"bad expiry", map[string]any{"productId": productA, "expiryDate": "31/12/2030"}, 400, 1, ""},
		{"numeric expiry", map[string]any{"productId": productA, "expiryDate": 20301231}, 400, 1, ""},
		{"both customers", map[string]any{"productId": productA, "customerId": "cus_jane", "newCustomer": map[string]any{"name": "X"}}, 400, 1, "Cannot specify both customerId and newCustomer"},
		{"unknown customer", map[string]any{"productId": productA, "customerId": "cus_nobody"}, 404, 2, "Customer with ID cus_nobody not found"},
		{"nameless customer", map[string]any{"productId": productA, "newCustomer": map[string]any{"email": "x@example.com"}}, 400, 1, "newCustomer.name is required"},
		{"existing e-mail", map[string]any{"productId": productA, "newCustomer": map[string]any{"name": "J", "email": "JANE@example.com"}}, 409, 2, "CONFLICT: Customer email JANE@example.com already exists."},
		{"metadata list", map[string]any{"productId": productA, "metadata": []string{"a"}}, 400, 1, "metadata must be an object"},
		{"amount 0", map[string]any{"productId": productA, "amountKeys": 0}, 400, 1, "amountKeys must be a whole number from 1 to 100"},
		{"amount 101", map[string]any{"productId": productA, "amountKeys": 101}, 400, 1, "amountKeys must be a whole number from 1 to 100"},
		{"sections 11", map[string]any{"productId": productA, "format": map[string]any{"sections": 11}}, 400, 1, "format.sections must be 1-10"},
		{"sections 0", map[string]any{"productId": productA, "format": map[string]any{"sections": 0}}, 400, 1, "format.sections must be 1-10"},
		{"section length 33", map[string]any{"productId": productA, "format": map[string]any{"sectionLength": 33}}, 400, 1, "format.sectionLength must be 1-32"},
		{"separator 4", map[string]any{"productId": productA, "format": map[string]any{"separator": "----"}}, 400, 1, "format.separator must be at most 3 characters"},
		{"prefix 17", map[string]any{"productId": productA, "format": map[string]any{"prefix": strings.Repeat("P", 17)}}, 400, 1, "format.prefix must be at most 16 characters"},
		{"suffix space", map[string]any{"productId": productA, "format": map[string]any{"suffix": " X"}}, 400, 1, "format.suffix must hold printable characters other than spaces"},
		{"charset", map[string]any{"productId": productA, "format": map[string]any{"charset": "alphanum"}}, 400, 1, "format.charset must be one of " + charsetNames},
		{"case", map[string]any{"productId": productA, "format": map[string]any{"case": "title"}}, 400, 1, "format.case must be upper, lower or mixed"},
		{"string sections", map[string]any{"productId": productA, "format": map[string]any{"sections": "4"}}, 400, 1, "format.sections has the wrong type"},
		{"too long", map[string]any{"productId": productA, "format": map[string]any{"sections": 10, "sectionLength": 32, "separator": "---"}}, 400, 1,
			"format.describes keys of 347 characters; license keys have at most 256"},
	} {
		for _, path := range createPaths {
			status, got := f.send(http.MethodPost, path, testToken, tc.body)
			if tc.message == "" {
				if status != tc.status || got["code"] != float64(tc.code) || !strings.HasPrefix(got["message"].(string), "maxActivations") && !strings.HasPrefix(got["message"].(string), "expiryDate") {
					t.Errorf("%s, %s: %d %v", tc.name, path, status, got)
				}
				continue
			}
			wantError(t, tc.name+", "+path, status, got, tc.status, tc.code, tc.message)
		}
	}
	// Nothing was created.
	if n := len(f.srv.Licenses()); n != 7 {
		t.Errorf("%d licenses after refused creates, want the 7 seeded", n)
	}
}

func TestCreateKeyFormats(t *testing.T) {
	f := newFixture(t, "")
	for _, tc := range []struct {
		format map[string]any
		shape  string
	}{
		{map[string]any{"sections": 2, "sectionLength": 8, "separator": "", "charset": "hex", "prefix": "ACME-", "case": "lower"}, `^ACME-[0-9a-f]{16}$`},
		{map[string]any{"sections": 3, "sectionLength": 4, "separator": "::", "charset": "numeric", "suffix": "-EU"}, `^[0-9]{4}::[0-9]{4}::[0-9]{4}-EU$`},
		{map[string]any{"sections": 1, "sectionLength": 32, "charset": "alphabetic", "case": "mixed"}, `^[A-Za-z]{32}$`},
		{map[string]any{"sections": 2, "sectionLength": 8, "separator": "-"}, `^[A-Z0-9]{8}-[A-Z0-9]{8}$`},                                                                                                  // like the docs' 0B4ADFD8-8C47ECD0
		{map[string]any{"sections": 10, "sectionLength": 21, "separator": "+", "prefix": "PPPPPPPPPPPPPPPP", "suffix": "SSSSSSSSSSSSSSSS", "case": "UPPER"}, `^P{16}[A-Z0-9]{21}(\+[A-Z0-9]{21}){9}S{16}$`}, // 251 characters
	} {
		status, got := f.send(http.MethodPost, "/key", testToken, map[string]any{"productId": productA, "format": tc.format})
		key := created(t, "create", status, got)
		if !regexp.MustCompile(tc.shape).MatchString(key) {
			t.Errorf("format %v made %q, want %s", tc.format, key, tc.shape)
		}
		// Every key so made is usable with the API's other calls.
		if status, got := f.post("/activate-key", body(productA, key, "host-1", "")); status != 200 {
			t.Errorf("activating %q: %d %v", key, status, got)
		}
	}
	// Mixed case mixes.
	_, got := f.send(http.MethodPost, "/key", testToken, map[string]any{"productId": productA, "format": map[string]any{"sections": 1, "sectionLength": 32, "charset": "alphabetic", "case": "mixed"}})
	if key := got["key"].(string); strings.ToUpper(key) == key || strings.ToLower(key) == key {
		t.Errorf("mixed case made %q", key)
	}
	// A format with 10 possible keys gives 10 different keys, then refuses.
	tiny := map[string]any{"productId": productB, "format": map[string]any{"sections": 1, "sectionLength": 1, "charset": "numeric"}}
	seen := map[string]bool{}
	for range 10 {
		status, got := f.send(http.MethodPost, "/create-key", testToken, tiny)
		seen[created(t, "create", status, got)] = true
	}
	status, got := f.send(http.MethodPost, "/create-key", testToken, tiny)
	wantError(t, "11th key of 10", status, got, 409, 2, "The key format leaves no unused key; choose a longer format")
	if len(seen) != 10 {
		t.Errorf("10 creates made %d distinct keys", len(seen))
	}
}

func TestCreateKeyCustomers(t *testing.T) {
	f := newFixture(t, "")
	// An existing customer.
	_, got := f.send(http.MethodPost, "/key", testToken, map[string]any{"productId": productA, "customerId": "cus_jane"})
	key := created(t, "create", 200, got)
	_, got = f.getKeyV2(productA, key, "")
	wantFields(t, "customer", got["data"].(map[string]any)["customer"].(map[string]any),
		map[string]any{"id": "cus_jane", "name": "Jane Doe", "email": "jane@example.com", "active": true})
	// A new customer, created with the key, and then usable by ID.
	_, got = f.send(http.MethodPost, "/create-key", testToken, map[string]any{"productId": productA, "newCustomer": map[string]any{"name": "Ops Team", "email": "ops@example.com"}})
	key = created(t, "create", 200, got)
	_, got = f.post("/get-key", body(productA, key, "", ""))
	cust := got["data"].(map[string]any)["customer"].(map[string]any)
	id, _ := cust["id"].(string)
	if !regexp.MustCompile(`^[0-9a-f]{22}$`).MatchString(id) {
		t.Errorf("new customer's id = %q", id)
	}
	wantFields(t, "new customer", cust, map[string]any{"name": "Ops Team", "email": "ops@example.com", "active": true})
	if status, got := f.post("/activate-key", body(productA, key, "host-1", "")); status != 200 || got["licensee_name"] != "Ops Team" {
		t.Errorf("activation names the licensee: %d %v", status, got)
	}
	_, got = f.send(http.MethodPost, "/key", testToken, map[string]any{"productId": productB, "customerId": id})
	if v := f.license(productB, created(t, "create", 200, got)); v.Customer == nil || v.Customer.ID != id {
		t.Errorf("key for the new customer by ID: customer %+v", v.Customer)
	}
	// Its e-mail address is taken now; a customer without one is fine twice.
	status, got := f.send(http.MethodPost, "/key", testToken, map[string]any{"productId": productA, "newCustomer": map[string]any{"name": "Other", "email": "ops@example.com"}})
	wantError(t, "taken e-mail", status, got, 409, 2, "CONFLICT: Customer email ops@example.com already exists.")
	for range 2 {
		_, got = f.send(http.MethodPost, "/key", testToken, map[string]any{"productId": productA, "newCustomer": map[string]any{"name": "No Mail"}})
		created(t, "customer without e-mail", 200, got)
	}
}

func TestCreateKeyAmount(t *testing.T) {
	f := newFixture(t, "")
	status, got := f.send(http.MethodPost, "/key", testToken, map[string]any{"productId": productA, "amountKeys": 3, "maxActivations": "1"})
	keys, _ := got["keys"].([]any)
	if status != 200 || len(keys) != 3 || got["code"] != 0.0 {
		t.Fatalf("3 keys: %d %v", status, got)
	}
	for _, k := range keys {
		if v := f.license(productA, k.(string)); v.MaxActivations == nil || *v.MaxActivations != 1 {
			t.Errorf("bulk key has limit %v", v.MaxActivations)
		}
	}
	if keys[0] == keys[1] || keys[1] == keys[2] || keys[0] == keys[2] {
		t.Errorf("keys %v repeat", keys)
	}
}

func TestCreateKeyIdempotency(t *testing.T) {
	f := newScopedFixture(t, Options{})
	req := map[string]any{"productId": productA, "maxActivations": "2"}
	_, got := f.send(http.MethodPost, "/key", testToken, req, "create-1")
	first := created(t, "create", 200, got)
	// The same key and body: the same answer, and no second license.
	for range 2 {
		_, got = f.send(http.MethodPost, "/key", testToken, req, "create-1")
		if again := created(t, "repeat", 200, got); again != first {
			t.Errorf("repeat created %s, want the first key %s", MaskKey(again), MaskKey(first))
		}
	}
	if n := len(f.srv.Licenses()); n != 8 {
		t.Errorf("%d licenses after a create and two repeats, want 8", n)
	}
	// Another body under the same key is refused; another key, another
	// token or another path creates anew, and so does a create without one.
	status, got := f.send(http.MethodPost, "/key", testToken, map[string]any{"productId": productA, "maxActivations": "3"}, "create-1")
	wantError(t, "same key, other body", status, got, 409, 1, "Idempotency-Key was already used with another request")
	for _, c := range []struct{ path, token, key string }{
		{"/key", testToken, "create-2"}, {"/key", tokenAdmin, "create-1"}, {"/create-key", testToken, "create-1"}, {"/key", testToken, ""},
	} {
		var extra []string
		if c.key != "" {
			extra = []string{c.key}
		}
		_, got := f.send(http.MethodPost, c.path, c.token, req, extra...)
		if key := created(t, "create", 200, got); key == first {
			t.Errorf("%+v: answered the first create's key", c)
		}
	}
	// A failed create is not remembered: the repeat runs again.
	bad := map[string]any{"productId": "prod_later_0123456789abcd"}
	status, got = f.send(http.MethodPost, "/key", testToken, bad, "create-3")
	wantError(t, "unknown product", status, got, 404, 1, "Product not found or inactive")
	if err := f.srv.AddLicense("prod_later_0123456789abcd", LicenseSeed{Key: "lk_later_0123456789abcdef"}); err != nil {
		t.Fatal(err)
	}
	_, got = f.send(http.MethodPost, "/key", testToken, bad, "create-3")
	created(t, "repeat after the product exists", 200, got)
	// Answers are kept for a day.
	f.clock.Advance(idempotencyTTL)
	_, got = f.send(http.MethodPost, "/key", testToken, req, "create-1")
	if key := created(t, "a day later", 200, got); key == first {
		t.Error("the answer was kept for more than a day")
	}
}

func TestUpdateKey(t *testing.T) {
	f := newFixture(t, "")
	upd := func(fields map[string]any) (int, map[string]any) {
		b := map[string]any{"productId": productA, "licenseKey": keyLimited}
		for k, v := range fields {
			b[k] = v
		}
		return f.send(http.MethodPatch, "/key", testToken, b)
	}
	ok := map[string]any{"code": 0, "message": "License key updated", "affectedCount": 1}
	status, got := upd(map[string]any{"maxActivations": "5", "expiryDate": "2031-01-01T00:00:00Z", "metadata": map[string]any{"a": "b"}})
	wantAnswer(t, "update", status, got, 200, ok)
	v := f.license(productA, keyLimited)
	if *v.MaxActivations != 5 || !v.ExpirationDate.Equal(time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)) || v.Customer.ID != "cus_jane" || v.Metadata["a"] != "b" {
		t.Errorf("after update: %+v", v.LicenseSeed)
	}
	// A field left out keeps its value; null clears it.
	status, got = upd(map[string]any{"maxActivations": 6})
	wantAnswer(t, "update limit", status, got, 200, ok)
	v = f.license(productA, keyLimited)
	if *v.MaxActivations != 6 || v.ExpirationDate == nil || v.Metadata["a"] != "b" {
		t.Errorf("after updating the limit: %+v", v.LicenseSeed)
	}
	upd(map[string]any{"maxActivations": nil, "expiryDate": nil, "metadata": nil})
	v = f.license(productA, keyLimited)
	if v.MaxActivations != nil || v.ExpirationDate != nil || v.Metadata != nil {
		t.Errorf("after clearing: %+v", v.LicenseSeed)
	}
	// A limit below the seats in use is accepted: the devices keep their
	// seats, and no new device gets one.
	for _, h := range []string{"host-1", "host-2", "host-3"} {
		f.post("/activate-key", body(productA, keyLimited, h, ""))
	}
	status, got = upd(map[string]any{"maxActivations": "1"})
	wantAnswer(t, "lower below use", status, got, 200, ok)
	if devices, _ := f.srv.Devices(productA, keyLimited); len(devices) != 3 {
		t.Errorf("devices after lowering = %v", hostIDs(devices))
	}
	status, got = f.post("/activate-key", body(productA, keyLimited, "host-4", ""))
	wantError(t, "activation over the lowered limit", status, got, 403, 2, "Activation limit reached")
	if status, _ := f.post("/activate-key", body(productA, keyLimited, "host-1", "")); status != 200 {
		t.Errorf("re-activating a device that holds a seat: %d", status)
	}
	// Customers: an existing one, or a new one.
	upd(map[string]any{"customerId": "cus_gone"})
	if v := f.license(productA, keyLimited); v.Customer.ID != "cus_gone" {
		t.Errorf("customer = %+v", v.Customer)
	}
	status, got = upd(map[string]any{"newCustomer": map[string]any{"name": "New Owner", "email": "owner@example.com"}})
	wantAnswer(t, "new customer", status, got, 200, ok)
	if v := f.license(productA, keyLimited); v.Customer.Name != "New Owner" || len(v.Customer.ID) != 22 {
		t.Errorf("customer = %+v", v.Customer)
	}

	for _, tc := range []struct {
		name    string
		body    map[string]any
		status  int
		code    int
		message string
	}{
		{"no key", map[string]any{"productId": productA, "maxActivations": "2"}, 400, 1, "Missing required params"},
		{"unknown key", map[string]any{"productId": productA, "licenseKey": "lk_nope_0123456789abcdefg", "maxActivations": "2"}, 404, 1, "Invalid license key"},
		{"other product", map[string]any{"productId": productB, "licenseKey": keyLimited, "maxActivations": "2"}, 404, 1, "Invalid license key"},
		{"both customers", map[string]any{"productId": productA, "licenseKey": keyLimited, "customerId": "cus_jane", "newCustomer": map[string]any{"name": "X"}}, 400, 1, "Cannot specify both customerId and newCustomer"},
		{"unknown customer", map[string]any{"productId": productA, "licenseKey": keyLimited, "customerId": "cus_nobody"}, 404, 2, "Customer with ID cus_nobody not found"},
		{"zero seats", map[string]any{"productId": productA, "licenseKey": keyLimited, "maxActivations": 0}, 400, 1,
			`maxActivations must be a whole number of at least 1 (such as "5"), or null for unlimited`},
	} {
		status, got := f.send(http.MethodPatch, "/key", testToken, tc.body)
		wantError(t, tc.name, status, got, tc.status, tc.code, tc.message)
		noKeyIn(t, tc.name, jsonString(got), keyLimited)
	}
	if v := f.license(productA, keyLimited); *v.MaxActivations != 1 {
		t.Errorf("a refused update changed the limit to %v", *v.MaxActivations)
	}
}

func TestBlockAndUnblock(t *testing.T) {
	for _, paths := range [][2]string{{"/block-key", "/unblock-key"}, {"/key/block", "/key/unblock"}} {
		t.Run(paths[0], func(t *testing.T) {
			f := newFixture(t, "")
			f.post("/activate-key", body(productA, keyLimited, "host-1", ""))
			// Twice each: blocking a blocked key succeeds and changes nothing.
			for range 2 {
				status, got := f.post(paths[0], body(productA, keyLimited, "", ""))
				wantAnswer(t, "block", status, got, 200, map[string]any{"message": "Key blocked", "code": 0})
			}
			status, got := f.post("/activate-key", body(productA, keyLimited, "host-2", ""))
			wantError(t, "activate a blocked key", status, got, 403, 2, "License is blocked")
			_, got = f.post("/get-key", body(productA, keyLimited, "", ""))
			wantFields(t, "blocked", got["data"].(map[string]any)["license"].(map[string]any), map[string]any{"activated": false, "activations": 1})
			if rows := f.srv.Licenses(); !slices.ContainsFunc(rows, func(r LicenseRow) bool { return r.Blocked && r.MaskedKey == MaskKey(keyLimited) }) {
				t.Errorf("Licenses() does not show the key blocked: %+v", rows)
			}
			for range 2 {
				status, got := f.post(paths[1], body(productA, keyLimited, "", ""))
				wantAnswer(t, "unblock", status, got, 200, map[string]any{"message": "Key unblocked", "code": 0})
			}
			if status, got := f.post("/activate-key", body(productA, keyLimited, "host-2", "")); status != 200 {
				t.Errorf("activate after unblocking: %d %v", status, got)
			}
			for _, p := range paths {
				status, got := f.post(p, body(productA, "lk_nope_0123456789abcdefg", "", ""))
				wantError(t, p+" unknown key", status, got, 404, 1, "Invalid license key")
				status, got = f.post(p, body(productA, "", "", ""))
				wantError(t, p+" without key", status, got, 400, 1, "Missing required params")
			}
		})
	}
}

func TestKeyLifecycleScopes(t *testing.T) {
	const (
		tokenWrite = "at_write_only_0123456789abcdef"
		tokenBlock = "at_block_only_0123456789abcdef"
	)
	f := newScopedFixture(t, Options{})
	for _, ts := range []TokenSeed{{Token: tokenWrite, Scopes: []string{ScopeLicensesWrite}}, {Token: tokenBlock, Scopes: []string{ScopeLicensesBlock}}} {
		if err := f.srv.addSeed(Seed{Tokens: []TokenSeed{ts}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	create := func(path, token string) (int, map[string]any) {
		return f.send(http.MethodPost, path, token, map[string]any{"productId": productA})
	}
	update := func(token string) (int, map[string]any) {
		return f.send(http.MethodPatch, "/key", token, map[string]any{"productId": productA, "licenseKey": keyUnlimited, "maxActivations": "4"})
	}
	block := func(path, token string) (int, map[string]any) {
		return f.post2(path, token, body(productA, keyUnlimited, "", ""))
	}
	denied := "Insufficient permissions for this operation"
	for _, token := range []string{tokenRead, tokenClient, tokenReadAct, tokenCustomer, tokenBlock} {
		for _, p := range createPaths {
			status, got := create(p, token)
			wantError(t, "create "+p, status, got, 403, 1, denied)
		}
		status, got := update(token)
		wantError(t, "update", status, got, 403, 1, denied)
	}
	for _, token := range []string{tokenRead, tokenClient, tokenReadAct, tokenCustomer, tokenWrite} {
		for _, p := range []string{"/block-key", "/unblock-key", "/key/block", "/key/unblock"} {
			status, got := block(p, token)
			wantError(t, p, status, got, 403, 1, denied)
		}
	}
	if n := len(f.srv.Licenses()); n != 7 {
		t.Errorf("refused creates made keys: %d licenses", n)
	}
	for _, token := range []string{testToken, tokenAdmin, tokenWrite} {
		for _, p := range createPaths {
			status, got := create(p, token)
			created(t, "create with "+token, status, got)
		}
		if status, got := update(token); status != 200 {
			t.Errorf("update: %d %v", status, got)
		}
	}
	for _, token := range []string{testToken, tokenAdmin, tokenBlock} {
		for _, p := range []string{"/block-key", "/unblock-key", "/key/block", "/key/unblock"} {
			if status, got := block(p, token); status != 200 {
				t.Errorf("%s with %s: %d %v", p, token, status, got)
			}
		}
	}
}

// post2 is post with another token.
func (f *fixture) post2(path, token string, b any) (int, map[string]any) {
	f.t.Helper()
	return f.send(http.MethodPost, path, token, b)
}

func TestCreatedKeysSurviveRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	f := newFixture(t, path)
	_, got := f.send(http.MethodPost, "/key", testToken, map[string]any{
		"productId": productA, "maxActivations": "2", "newCustomer": map[string]any{"name": "Kept", "email": "kept@example.com"},
		"metadata": map[string]any{"env": "ci"},
	})
	key := created(t, "create", 200, got)
	f.post("/key/block", body(productA, key, "", ""))
	customerID := f.license(productA, key).Customer.ID
	closeServer(t, f.srv)

	srv := newServer(t, Options{Seed: testSeed(), StateFile: path, Now: f.clock.Now})
	v, err := srv.license(productA, key)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Blocked || *v.MaxActivations != 2 || v.Customer.ID != customerID || v.Metadata["env"] != "ci" {
		t.Errorf("after restart: %+v", v.LicenseSeed)
	}
	// The created customer is still known by ID, and its e-mail taken.
	f2 := &fixture{t: t, srv: srv, url: startServer(t, srv), clock: f.clock}
	_, got = f2.send(http.MethodPost, "/key", testToken, map[string]any{"productId": productA, "customerId": customerID})
	created(t, "create for the kept customer", 200, got)
	status, got := f2.send(http.MethodPost, "/key", testToken, map[string]any{"productId": productA, "newCustomer": map[string]any{"name": "X", "email": "kept@example.com"}})
	wantError(t, "kept e-mail", status, got, 409, 2, "CONFLICT: Customer email kept@example.com already exists.")
}

// TestCreatedKeysInSeatListing: the seat listing shows created keys, and
// blocked ones as such.
func TestCreatedKeysInSeatListing(t *testing.T) {
	f := newFixture(t, "")
	_, got := f.send(http.MethodPost, "/key", testToken, map[string]any{"productId": productB, "maxActivations": "3"})
	key := created(t, "create", 200, got)
	f.post("/key/activate", body(productB, key, "host-1", ""))
	f.post("/key/block", body(productB, key, "", ""))
	var row *LicenseRow
	for _, r := range f.srv.Licenses() {
		if r.MaskedKey == MaskKey(key) {
			row = &r
		}
	}
	if row == nil || !row.Blocked || row.Activations != 1 || *row.MaxActivations != 3 {
		t.Errorf("license row = %+v", row)
	}
	seats := f.srv.Seats()
	if !slices.ContainsFunc(seats, func(r SeatRow) bool { return r.MaskedKey == MaskKey(key) && r.HostID == "host-1" && r.Blocked }) {
		t.Errorf("seats = %+v, want host-1 on the blocked key", seats)
	}
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestCreateKeyLostAnswer: a create whose answer is lost made its key; the
// repeat with the same Idempotency-Key gets that key, not another one.
func TestCreateKeyLostAnswer(t *testing.T) {
	f := newFixture(t, "")
	if err := f.srv.SetFaults(FaultConfig{LostAnswerRate: 1}); err != nil {
		t.Fatal(err)
	}
	req := map[string]any{"productId": productB, "maxActivations": "1"}
	if _, _, err := f.try(http.MethodPost, "/key", testToken, req, func(r *http.Request) { r.Header.Set("Idempotency-Key", "lost-1") }); err == nil {
		t.Fatal("the answer was not lost")
	}
	if n := len(f.srv.Licenses()); n != 8 {
		t.Fatalf("%d licenses after the lost create, want 8", n)
	}
	if err := f.srv.SetFaults(FaultConfig{}); err != nil {
		t.Fatal(err)
	}
	_, got := f.send(http.MethodPost, "/key", testToken, req, "lost-1")
	key := created(t, "repeat", 200, got)
	if n := len(f.srv.Licenses()); n != 8 {
		t.Errorf("%d licenses after the repeat, want 8", n)
	}
	f.license(productB, key)
}
