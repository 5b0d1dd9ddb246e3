package keymint

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// createdTestKey is the key the test servers hand out: a secret.
const createdTestKey = "NEWKY-S3CR3-T0K3N-99ZZ9"

// lifecycleServer records requests with their raw bodies and answers them
// with answer (nil: a success fitting the path).
func lifecycleServer(t *testing.T, cfg Config, answer func(r *http.Request) (int, string)) (*Client, func() []recordedRaw) {
	t.Helper()
	var mu sync.Mutex
	var reqs []recordedRaw
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		mu.Lock()
		reqs = append(reqs, recordedRaw{method: r.Method, path: r.URL.Path, header: r.Header.Clone(), body: string(raw)})
		mu.Unlock()
		status, body := 200, `{"code":0,"message":"ok"}`
		if r.Method == http.MethodPost && (r.URL.Path == "/key" || r.URL.Path == "/create-key") {
			body = `{"code":0,"key":"` + createdTestKey + `"}`
		}
		if answer != nil {
			status, body = answer(r)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	cfg.BaseURL, cfg.AccessToken = srv.URL, testToken
	if cfg.MaxRetries == nil {
		cfg.MaxRetries = ptr(3)
	}
	cfg.RetryWaitMin, cfg.RetryWaitMax = time.Millisecond, 5*time.Millisecond
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, func() []recordedRaw {
		mu.Lock()
		defer mu.Unlock()
		return append([]recordedRaw(nil), reqs...)
	}
}

type recordedRaw struct {
	method, path string
	header       http.Header
	body         string
}

func TestKeyLifecyclePaths(t *testing.T) {
	for _, tc := range []struct {
		version                string
		create, block, unblock string
	}{
		{APIv1, "/create-key", "/block-key", "/unblock-key"},
		{APIAuto, "/create-key", "/block-key", "/unblock-key"},
		{APIv2, "/key", "/key/block", "/key/unblock"},
	} {
		t.Run(tc.version, func(t *testing.T) {
			c, reqs := lifecycleServer(t, Config{APIVersion: tc.version}, nil)
			ctx := context.Background()
			created, err := c.CreateKey(ctx, CreateKeyInput{
				ProductID: testProduct, MaxActivations: ptr(int64(3)), ExpiryDate: "2030-01-01T00:00:00Z",
				NewCustomer: &NewCustomer{Name: "Ops", Email: "ops@example.com"},
				Format:      &KeyFormat{Sections: 2, SectionLength: 8, Separator: ptr(""), Case: "lower"},
				Metadata:    map[string]any{"env": "prod"},
			})
			if err != nil || created.Key != createdTestKey {
				t.Fatalf("CreateKey = %+v, %v", created, err)
			}
			if err := c.UpdateKey(ctx, UpdateKeyInput{ProductID: testProduct, LicenseKey: testKey, SetMaxActivations: true, MaxActivations: ptr(int64(5))}); err != nil {
				t.Fatal(err)
			}
			if err := c.BlockKey(ctx, testProduct, testKey); err != nil {
				t.Fatal(err)
			}
			if err := c.UnblockKey(ctx, testProduct, testKey); err != nil {
				t.Fatal(err)
			}
			got := reqs()
			want := []struct{ method, path, body string }{
				{"POST", tc.create, `{"productId":"` + testProduct + `","maxActivations":"3","expiryDate":"2030-01-01T00:00:00Z",` +
					`"newCustomer":{"name":"Ops","email":"ops@example.com"},"format":{"sections":2,"sectionLength":8,"separator":"","case":"lower"},"metadata":{"env":"prod"}}`},
				// Generation 1 documents no update: PATCH /key under every version.
				{"PATCH", "/key", `{"licenseKey":"` + testKey + `","maxActivations":"5","productId":"` + testProduct + `"}`},
				{"POST", tc.block, `{"productId":"` + testProduct + `","licenseKey":"` + testKey + `"}`},
				{"POST", tc.unblock, `{"productId":"` + testProduct + `","licenseKey":"` + testKey + `"}`},
			}
			if len(got) != len(want) {
				t.Fatalf("%d requests, want %d: %+v", len(got), len(want), got)
			}
			for i, w := range want {
				if got[i].method != w.method || got[i].path != w.path || got[i].body != w.body {
					t.Errorf("request %d = %s %s %s\nwant %s %s %s", i, got[i].method, got[i].path, got[i].body, w.method, w.path, w.body)
				}
				if got[i].header.Get("Idempotency-Key") == "" || got[i].header.Get("Authorization") != "Bearer "+testToken {
					t.Errorf("request %d headers %v", i, got[i].header)
				}
			}
		})
	}
}

func TestUpdateKeyBodies(t *testing.T) {
	c, reqs := lifecycleServer(t, Config{}, nil)
	ctx := context.Background()
	base := UpdateKeyInput{ProductID: testProduct, LicenseKey: testKey}
	in := base
	in.SetMaxActivations = true // nil: unlimited
	in.ExpiryDate, in.CustomerID = ptr("2031-02-03T04:05:06Z"), ptr("cus_1")
	in.Metadata = ptr(map[string]any(nil))
	if err := c.UpdateKey(ctx, in); err != nil {
		t.Fatal(err)
	}
	in = base
	in.NewCustomer = &NewCustomer{Name: "N"}
	if err := c.UpdateKey(ctx, in); err != nil {
		t.Fatal(err)
	}
	in.CustomerID = ptr("cus_1")
	if err := c.UpdateKey(ctx, in); err == nil {
		t.Error("UpdateKey accepted a customer ID and a new customer")
	}
	got := reqs()
	var first, second map[string]any
	_ = json.Unmarshal([]byte(got[0].body), &first)
	_ = json.Unmarshal([]byte(got[1].body), &second)
	if v, ok := first["maxActivations"]; !ok || v != nil || first["expiryDate"] != "2031-02-03T04:05:06Z" || first["customerId"] != "cus_1" ||
		!jsonEq(first["metadata"], map[string]any{}) {
		t.Errorf("update body = %s; want maxActivations null, the expiry, the customer and empty metadata", got[0].body)
	}
	if len(second) != 3 || !jsonEq(second["newCustomer"], map[string]any{"name": "N"}) {
		t.Errorf("update body = %s; want only the new customer", got[1].body)
	}
	if len(got) != 2 {
		t.Errorf("%d requests, want 2", len(got))
	}
}

func jsonEq(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

// TestCreateKeyIsSentAgainOnlyWhenUnsent: a create whose attempt may have
// reached the server is never repeated; one refused for the rate limit is.
func TestCreateKeyIsSentAgainOnlyWhenUnsent(t *testing.T) {
	for name, fail := range map[string]func(http.ResponseWriter){
		"500":          status(500, `{"message":"Server error","code":1}`),
		"503":          status(503, ``),
		"lost answer":  hangUp,
		"cut-off body": cutOff,
	} {
		t.Run(name, func(t *testing.T) {
			s := &scripted{answers: []func(http.ResponseWriter){fail, status(200, `{"code":0,"key":"`+createdTestKey+`"}`)}}
			c := retryClient(t, s, Config{MaxRetries: ptr(5)})
			_, err := c.CreateKey(context.Background(), CreateKeyInput{ProductID: testProduct})
			if err == nil || s.count() != 1 {
				t.Fatalf("err %v after %d requests; want an error after 1", err, s.count())
			}
			if !IsCreateOutcomeUnknown(err) {
				t.Errorf("IsCreateOutcomeUnknown(%v) = false", err)
			}
		})
	}
	// A 429 did nothing: the create is sent again, with the same
	// Idempotency-Key, and succeeds.
	s := &scripted{answers: []func(http.ResponseWriter){
		status(429, `{"message":"Request failed","code":1,"error":{"code":"RATE_LIMIT_EXCEEDED","message":"Too many requests."}}`),
		status(200, `{"code":0,"key":"`+createdTestKey+`"}`),
	}}
	c := retryClient(t, s, Config{RateLimitWait: ptr(time.Minute)})
	created, err := c.CreateKey(context.Background(), CreateKeyInput{ProductID: testProduct})
	if err != nil || created.Key != createdTestKey || s.count() != 2 || s.keys[0] == "" || s.keys[0] != s.keys[1] {
		t.Errorf("after a 429: %+v, %v, %d requests, keys %q", created, err, s.count(), s.keys)
	}
	// Refusals are definite.
	for _, body := range []string{`{"message":"Product not found or inactive","code":1}`, `{"message":"Invalid access token","code":1}`} {
		s := &scripted{answers: []func(http.ResponseWriter){status(404, body)}}
		c := retryClient(t, s, Config{})
		if _, err := c.CreateKey(context.Background(), CreateKeyInput{ProductID: testProduct}); err == nil || IsCreateOutcomeUnknown(err) || s.count() != 1 {
			t.Errorf("%s: %v (unknown %v) after %d requests", body, err, IsCreateOutcomeUnknown(err), s.count())
		}
	}
}

// refusingTransport fails the first n round trips as a refused connection
// would, without sending anything.
type refusingTransport struct {
	mu   sync.Mutex
	n    int
	base http.RoundTripper
}

func (rt *refusingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rt.mu.Lock()
	refuse := rt.n > 0
	rt.n--
	rt.mu.Unlock()
	if refuse {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	}
	return rt.base.RoundTrip(r)
}

// TestCreateKeyRetriesConnectionsNeverOpened: a connection that could not
// be opened sent nothing, so the create is tried again; when every attempt
// fails so, the error says that no key was made.
func TestCreateKeyRetriesConnectionsNeverOpened(t *testing.T) {
	s := &scripted{answers: []func(http.ResponseWriter){status(200, `{"code":0,"key":"`+createdTestKey+`"}`)}}
	c := retryClient(t, s, Config{MaxRetries: ptr(3), Transport: &refusingTransport{n: 2, base: http.DefaultTransport}})
	created, err := c.CreateKey(context.Background(), CreateKeyInput{ProductID: testProduct})
	if err != nil || created.Key != createdTestKey || s.count() != 1 {
		t.Errorf("after 2 refused connections: %+v, %v, %d requests reached the server", created, err, s.count())
	}
	c = retryClient(t, s, Config{MaxRetries: ptr(2), Transport: &refusingTransport{n: 10, base: http.DefaultTransport}})
	_, err = c.CreateKey(context.Background(), CreateKeyInput{ProductID: testProduct})
	if err == nil || IsCreateOutcomeUnknown(err) {
		t.Errorf("every connection refused: %v, outcome unknown %v; want a definite failure", err, IsCreateOutcomeUnknown(err))
	}
}

func TestCreateKeyAnswerMustHoldAKey(t *testing.T) {
	for _, body := range []string{
		`{"code":0}`, `{"code":0,"key":null}`, `{"code":0,"key":42}`, `{"code":0,"key":""}`,
		`{"code":0,"key":" ` + createdTestKey + `"}`, `{"code":0,"key":"` + strings.Repeat("K", 257) + `"}`,
	} {
		c, _ := lifecycleServer(t, Config{}, func(*http.Request) (int, string) { return 200, body })
		_, err := c.CreateKey(context.Background(), CreateKeyInput{ProductID: testProduct})
		if err == nil || !IsCreateOutcomeUnknown(err) || !strings.Contains(err.Error(), "a key may have been created") {
			t.Errorf("%s: %v", body, err)
		}
		if err != nil && strings.Contains(err.Error(), createdTestKey) {
			t.Errorf("%s: the error shows the key: %v", body, err)
		}
	}
	// A 2xx that is not a success: the key may exist.
	c, _ := lifecycleServer(t, Config{}, func(*http.Request) (int, string) { return 200, `{"key":"` + createdTestKey + `"}` })
	_, err := c.CreateKey(context.Background(), CreateKeyInput{ProductID: testProduct})
	if !IsAmbiguous(err) || !IsCreateOutcomeUnknown(err) || strings.Contains(err.Error(), createdTestKey) {
		t.Errorf("answer without code: %v", err)
	}
}

// TestCreatedKeyMaskedInLogs: the created key never shows in the log of the
// call that receives it, in the answer's body or anywhere else, nor in an
// error quoting the answer.
func TestCreatedKeyMaskedInLogs(t *testing.T) {
	var buf lockedBuffer
	logger := &jsonLogger{w: &buf}
	ctx := context.Background()
	c, _ := lifecycleServer(t, Config{Logger: logger}, nil)
	created, err := c.CreateKey(ctx, CreateKeyInput{ProductID: testProduct, MaxActivations: ptr(int64(2))})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.BlockKey(ctx, testProduct, created.Key); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "KeyMint API response") || !strings.Contains(out, `\"code\":0`) || !strings.Contains(out, "/key/block") && !strings.Contains(out, "/block-key") {
		t.Fatalf("the calls were not logged with their bodies:\n%s", out)
	}
	if strings.Contains(out, createdTestKey) || strings.Contains(out, testToken) {
		t.Errorf("the log holds a secret:\n%s", out)
	}
	// Echoed in a refusal, in escaped forms too.
	for _, answer := range []string{
		`{"message":"key ` + createdTestKey + ` exists","code":2,"key":"` + createdTestKey + `"}`,
		`{"code":0,"key":"` + createdTestKey + `","success":false,"message":"` + strings.ReplaceAll(createdTestKey, "-", `\u002d`) + `"}`,
	} {
		buf.Reset()
		c, _ := lifecycleServer(t, Config{Logger: logger}, func(*http.Request) (int, string) {
			if strings.Contains(answer, `"code":2`) {
				return 409, answer
			}
			return 200, answer
		})
		_, err := c.CreateKey(ctx, CreateKeyInput{ProductID: testProduct})
		if err == nil {
			t.Fatalf("%s: no error", answer)
		}
		if strings.Contains(err.Error(), createdTestKey) || strings.Contains(buf.String(), createdTestKey) {
			t.Errorf("%s: the key shows in the error %q or the log:\n%s", answer, err, buf.String())
		}
	}
}

func TestKeyLifecyclePredicates(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
		want   func(error) bool
		name   string
	}{
		{404, `{"message":"Product not found or inactive","code":1}`, IsProductNotFound, "product"},
		{404, `{"message":"Customer with ID cus_abc not found","code":2}`, IsCustomerNotFound, "customer 404"},
		{400, `{"message":"Customer not found","code":1}`, IsCustomerNotFound, "customer 400"},
		{409, `{"message":"CONFLICT: Customer email a@b.example already exists.","code":2}`, IsCustomerEmailExists, "email"},
		{409, `{"message":"Request failed","code":1,"error":{"code":"CUSTOMER_EMAIL_EXISTS","message":"exists"}}`, IsCustomerEmailExists, "email envelope"},
		{404, `{"message":"Invalid license key","code":1}`, IsLicenseNotFound, "license"},
	} {
		c, _ := lifecycleServer(t, Config{}, func(*http.Request) (int, string) { return tc.status, tc.body })
		_, err := c.CreateKey(context.Background(), CreateKeyInput{ProductID: testProduct})
		if !tc.want(err) {
			t.Errorf("%s: %v not matched", tc.name, err)
		}
	}
	// Not KeyMint's answers, or other words: no match.
	for _, tc := range []struct {
		status int
		body   string
	}{
		{404, `{"message":"Cannot POST /key","error":"Not Found","statusCode":404}`},
		{404, `{"message":"Product not found or inactive and more","code":1}`},
		{409, `{"message":"Conflict","code":2}`},
		{500, `{"message":"Customer not found","code":1}`},
	} {
		c, _ := lifecycleServer(t, Config{MaxRetries: ptr(0)}, func(*http.Request) (int, string) { return tc.status, tc.body })
		_, err := c.CreateKey(context.Background(), CreateKeyInput{ProductID: testProduct})
		if IsProductNotFound(err) || IsCustomerNotFound(err) || IsCustomerEmailExists(err) {
			t.Errorf("%d %s matched a predicate: %v", tc.status, tc.body, err)
		}
	}
	for op, want := range map[string]string{OpCreateKey: ScopeLicensesWrite, OpUpdateKey: ScopeLicensesWrite, OpBlockKey: ScopeLicensesBlock, OpUnblockKey: ScopeLicensesBlock} {
		if got := RequiredScope(op); got != want {
			t.Errorf("RequiredScope(%s) = %q, want %q", op, got, want)
		}
	}
}
