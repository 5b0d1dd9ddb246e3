package localserver

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keymint-dev/terraform-provider-keymint/internal/keymint"
)

// Tokens of the scope tests, like the three kinds of token KeyMint's own
// tests use, and two more.
const (
	tokenRead     = "at_read_only_0123456789abcdef"   // licenses:read
	tokenClient   = "at_client_0123456789abcdefghij"  // licenses:activate
	tokenReadAct  = "at_read_activate_0123456789abc"  // licenses:read, licenses:activate
	tokenCustomer = "at_customers_0123456789abcdefg"  // customers:read, products:all
	tokenAdmin    = "at_admin_scoped_0123456789abcde" // every scope, listed one by one
)

// newScopedFixture starts a server with testSeed and the scoped tokens.
func newScopedFixture(t *testing.T, opts Options) *fixture {
	t.Helper()
	c := &clock{t: testNow}
	opts.Seed = testSeed()
	opts.Seed.Tokens = []TokenSeed{
		{Token: tokenRead, Scopes: []string{ScopeLicensesRead}},
		{Token: tokenClient, Scopes: []string{ScopeLicensesActivate}},
		{Token: tokenReadAct, Scopes: []string{ScopeLicensesRead, ScopeLicensesActivate}},
		{Token: tokenCustomer, Scopes: []string{ScopeCustomersRead, ScopeProductsAll}},
		{Token: tokenAdmin, Scopes: Scopes()},
	}
	opts.Now = c.Now
	srv := newServer(t, opts)
	return &fixture{t: t, srv: srv, url: startServer(t, srv), clock: c}
}

// call sends one API request of the scope tests with token and returns
// the status and the answer.
func (f *fixture) call(method, path, token string) (int, map[string]any) {
	f.t.Helper()
	var reqBody any
	setup := func(*http.Request) {}
	switch path {
	case "/key":
		path += "?productId=" + productA
		setup = func(r *http.Request) { r.Header.Set(keymint.HeaderLicenseKey, keyUnlimited) }
	case "/deactivate-key", "/key/deactivate":
		if err := f.srv.ActivateDevice(productA, keyUnlimited, "host-1", "", ""); err != nil {
			f.t.Fatal(err)
		}
		reqBody = body(productA, keyUnlimited, "host-1", "")
	default:
		if !strings.HasPrefix(path, localPrefix) {
			reqBody = body(productA, keyUnlimited, "host-1", "")
		}
	}
	resp, raw, err := f.try(method, path, token, reqBody, setup)
	if err != nil {
		f.t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		got = map[string]any{"raw": string(raw)}
	}
	return resp.StatusCode, got
}

func TestScopes(t *testing.T) {
	type call struct{ method, path string }
	var (
		get1    = call{http.MethodPost, "/get-key"}
		act1    = call{http.MethodPost, "/activate-key"}
		deact1  = call{http.MethodPost, "/deactivate-key"}
		get2    = call{http.MethodGet, "/key"}
		act2    = call{http.MethodPost, "/key/activate"}
		deact2  = call{http.MethodPost, "/key/deactivate"}
		seats   = call{http.MethodGet, "/_local/seats"}
		licList = call{http.MethodGet, "/_local/licenses"}
	)
	reads := []call{get1, get2}
	activations := []call{act1, deact1, act2, deact2}
	local := []call{seats, licList}
	for _, tc := range []struct {
		name, token     string
		allowed, denied []call
	}{
		{"every scope (access_tokens)", testToken, slices.Concat(reads, activations, local), nil},
		{"every scope listed", tokenAdmin, slices.Concat(reads, activations, local), nil},
		{"read-only", tokenRead, slices.Concat(reads, local), activations},
		{"client", tokenClient, slices.Concat(activations, local), reads},
		{"read and activate", tokenReadAct, slices.Concat(reads, activations, local), nil},
		{"customers only", tokenCustomer, local, slices.Concat(reads, activations)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newScopedFixture(t, Options{})
			for _, c := range tc.allowed {
				if status, got := f.call(c.method, c.path, tc.token); status != 200 {
					t.Errorf("%s %s: %d %v, want 200", c.method, c.path, status, got)
				}
			}
			for _, c := range tc.denied {
				status, got := f.call(c.method, c.path, tc.token)
				wantError(t, c.method+" "+c.path, status, got, 403, 1, "Insufficient permissions for this operation")
			}
			// A refused call changes nothing.
			if slices.Contains(tc.denied, act1) {
				if devices, _ := f.srv.Devices(productA, keyUnlimited); len(devices) != 1 { // the deactivations' own seat
					t.Errorf("refused calls left devices %v", hostIDs(devices))
				}
			}
		})
	}
}

func TestScopeCheckComesAfterAuthAndRateLimit(t *testing.T) {
	f := newScopedFixture(t, Options{RateLimit: RateLimit{Requests: 2, Window: time.Minute}})
	// An unknown token is a 401 whatever the path needs.
	status, got := f.call(http.MethodPost, "/get-key", "at_unknown_0123456789abcdef")
	wantError(t, "unknown token", status, got, 401, 1, "Invalid access token")
	// Refused calls count against the rate limit, as on a hosted API.
	for range 2 {
		status, got := f.call(http.MethodPost, "/get-key", tokenClient)
		wantError(t, "refused call", status, got, 403, 1, "Insufficient permissions for this operation")
	}
	status, _ = f.call(http.MethodPost, "/activate-key", tokenClient)
	if status != 429 {
		t.Errorf("third call of the token in a minute: %d, want 429", status)
	}
	// ... but the local aids need no scope and are not counted.
	if status, got := f.call(http.MethodGet, "/_local/seats", tokenClient); status != 200 {
		t.Errorf("/_local/seats: %d %v", status, got)
	}
	if got := f.srv.Calls()["/get-key"]; got != 3 {
		t.Errorf("Calls()[/get-key] = %d, want 3", got)
	}
	if got := f.srv.FaultStats().RateLimited; got != 1 {
		t.Errorf("FaultStats().RateLimited = %d, want 1", got)
	}
}

func TestScopesAndValidateScopes(t *testing.T) {
	want := []string{"licenses:read", "licenses:write", "licenses:activate", "licenses:block",
		"customers:read", "customers:write", "customers:delete", "products:all", "products:specific"}
	got := Scopes()
	if !slices.Equal(got, want) {
		t.Errorf("Scopes() = %v", got)
	}
	got[0] = "changed"
	if Scopes()[0] != ScopeLicensesRead {
		t.Error("Scopes() returns its own list")
	}
	if scopes, err := parseScopes(want); err != nil || scopes != allScopes || !slices.Equal(scopes.names(), want) {
		t.Errorf("every scope: %b, %v", scopes, err)
	}
	const secret = "at_secret_0123456789abcdef"
	for _, tc := range []struct {
		scopes []string
		want   string // "" = valid
	}{
		{[]string{ScopeLicensesRead}, ""},
		{[]string{ScopeLicensesActivate, ScopeLicensesRead, ScopeLicensesActivate}, ""},
		{nil, "no scope listed"},
		{[]string{}, "no scope listed"},
		{[]string{"licenses:reed"}, `unknown scope "licenses:reed"; the scopes are licenses:read, licenses:write,`},
		{[]string{ScopeLicensesRead, "Licenses:Read"}, "unknown scope (the 2nd of 2, not shown: it does not look like a scope name)"},
		{[]string{ScopeLicensesRead, "licenses:*"}, "unknown scope (the 2nd of 2, not shown"},
		{[]string{"licenses"}, "unknown scope (the 1st of 1, not shown"},
		{[]string{secret}, "unknown scope (the 1st of 1, not shown"},
		{[]string{"x:" + secret}, "unknown scope (the 1st of 1, not shown"},
		{[]string{ScopeLicensesRead, ""}, "empty scope name"},
	} {
		err := ValidateScopes(tc.scopes)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("ValidateScopes(%q): %v", tc.scopes, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("ValidateScopes(%q) = %v, want %q", tc.scopes, err, tc.want)
		case err != nil && strings.Contains(err.Error(), secret):
			t.Errorf("ValidateScopes(%q) shows the token: %v", tc.scopes, err)
		}
	}
	if got := ordinal(1) + ordinal(2) + ordinal(3) + ordinal(4) + ordinal(11) + ordinal(12) + ordinal(13) + ordinal(21) + ordinal(112); got != "1st2nd3rd4th11th12th13th21st112th" {
		t.Errorf("ordinals: %s", got)
	}
}

func TestSeedTokens(t *testing.T) {
	const secret = "at_seed_secret_0123456789abcd"
	for _, tc := range []struct {
		name string
		seed Seed
		want string
	}{
		{"unknown scope", Seed{Tokens: []TokenSeed{{Token: tokenRead, Scopes: []string{ScopeLicensesRead}}, {Token: secret, Scopes: []string{"licences:read"}}}},
			`seed tokens[1]: unknown scope "licences:read"`},
		{"no scopes", Seed{Tokens: []TokenSeed{{Token: secret}}}, "seed tokens[0]: no scope listed"},
		{"empty token", Seed{Tokens: []TokenSeed{{Scopes: []string{ScopeLicensesRead}}}}, "seed tokens[0]: empty token"},
		{"token as scope", Seed{Tokens: []TokenSeed{{Token: "at_x", Scopes: []string{secret}}}}, "not shown"},
	} {
		_, err := New(Options{Seed: tc.seed})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: New: %v, want %q", tc.name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("%s: the error shows the token: %v", tc.name, err)
		}
	}

	// A token listed more than once has the scopes of every listing.
	s, err := New(Options{Seed: Seed{
		AccessTokens: []string{tokenAdmin},
		Tokens: []TokenSeed{
			{Token: tokenAdmin, Scopes: []string{ScopeLicensesRead}},
			{Token: tokenReadAct, Scopes: []string{ScopeLicensesRead}},
			{Token: tokenReadAct, Scopes: []string{ScopeLicensesActivate}},
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.scopes(tokenAdmin); got != allScopes {
		t.Errorf("scopes of a token also in access_tokens: %v", got.names())
	}
	if got := s.scopes(tokenReadAct).names(); !slices.Equal(got, []string{ScopeLicensesRead, ScopeLicensesActivate}) {
		t.Errorf("scopes of a token listed twice: %v", got)
	}

	// A seed file lists them under "tokens".
	path := filepath.Join(t.TempDir(), "seed.json")
	content := `{"access_tokens": ["` + testToken + `"], "tokens": [{"token": "` + tokenClient + `", "scopes": ["licenses:activate"]}], "products": []}`
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	seed, err := LoadSeedFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := []TokenSeed{{Token: tokenClient, Scopes: []string{ScopeLicensesActivate}}}; !jsonEqual(seed.Tokens, want) {
		t.Errorf("seed tokens = %+v", seed.Tokens)
	}
}

func TestStateFileKeepsScopes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	f := newScopedFixture(t, Options{StateFile: path})
	f.srv.AddToken("at_runtime_token_0123456789")
	f.srv.AddToken(tokenCustomer) // AddToken gives every scope
	st, err := readStateFile(path)
	if err != nil {
		t.Fatal(err)
	}
	wantAll := []string{"at_runtime_token_0123456789", tokenAdmin, testToken, tokenCustomer}
	slices.Sort(wantAll)
	wantScoped := []TokenSeed{ // sorted by token, scopes in the order of Scopes()
		{Token: tokenClient, Scopes: []string{ScopeLicensesActivate}},
		{Token: tokenReadAct, Scopes: []string{ScopeLicensesRead, ScopeLicensesActivate}},
		{Token: tokenRead, Scopes: []string{ScopeLicensesRead}},
	}
	if !slices.Equal(st.AccessTokens, wantAll) || !jsonEqual(st.Tokens, wantScoped) {
		t.Errorf("state file tokens: access_tokens %v, tokens %+v", st.AccessTokens, st.Tokens)
	}

	// A restart without a seed restores them.
	closeServer(t, f.srv)
	again := newServer(t, Options{StateFile: path})
	for token, want := range map[string][]string{
		tokenRead:     {ScopeLicensesRead},
		tokenClient:   {ScopeLicensesActivate},
		tokenReadAct:  {ScopeLicensesRead, ScopeLicensesActivate},
		tokenCustomer: Scopes(),
		tokenAdmin:    Scopes(),
		testToken:     Scopes(),
	} {
		if got := again.scopes(token).names(); !slices.Equal(got, want) {
			t.Errorf("scopes after restart: %v, want %v", got, want)
		}
	}

	// The seed's scopes of a token win over the file's.
	seed := Seed{
		AccessTokens: []string{tokenRead},
		Tokens:       []TokenSeed{{Token: testToken, Scopes: []string{ScopeLicensesRead}}},
	}
	closeServer(t, again)
	again = newServer(t, Options{Seed: seed, StateFile: path})
	if got := again.scopes(tokenRead); got != allScopes {
		t.Errorf("a token the seed gives every scope has %v", got.names())
	}
	if got := again.scopes(testToken).names(); !slices.Equal(got, []string{ScopeLicensesRead}) {
		t.Errorf("a token the seed narrows has %v", got)
	}
	if got := again.scopes(tokenClient).names(); !slices.Equal(got, []string{ScopeLicensesActivate}) {
		t.Errorf("a token only in the file has %v", got)
	}

	// A file with an unknown scope is refused without showing the token.
	bad := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(bad, []byte(`{"version":1,"tokens":[{"token":"at_secret_in_file_0123","scopes":["licenses:fly"]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = New(Options{StateFile: bad})
	if err == nil || !strings.Contains(err.Error(), `tokens[0]: unknown scope "licenses:fly"`) || strings.Contains(err.Error(), "at_secret_in_file_0123") {
		t.Errorf("New with an unknown scope in the state file: %v", err)
	}
}

// TestStateFileWithoutScopedTokens: a file whose tokens all have every
// scope is written as before scopes existed.
func TestStateFileWithoutScopedTokens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	newFixture(t, path)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), `"tokens"`) || !strings.Contains(string(data), `"access_tokens": [`) {
		t.Errorf("state file:\n%s", data)
	}
}
