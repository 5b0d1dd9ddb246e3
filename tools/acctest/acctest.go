// Package acctest holds what the acceptance tests share: the KeyMint server
// they run against and helpers that ask it what it holds.
//
// By default the tests start the bundled local server in-process. When
// KEYMINT_ACCESS_TOKEN, KEYMINT_BASE_URL, KEYMINT_TEST_PRODUCT_ID and
// KEYMINT_TEST_LICENSE_KEY are all set, they run against that server instead
// (for example the live API); tests that need to shape a license themselves
// (seat limits, blocked keys) are skipped there.
//
// Live, every test shares the one license, and they still run in parallel:
// a test sees only its own hosts (HostID gives each test's hosts a prefix of
// their own, and Hosts lists only those), every host activated behind
// Terraform's back is deactivated when the test ends, and the tests that
// need the license to themselves (resets, exact seat counts) take it
// exclusively (RunExclusive, Exclusive) while the others share it.
package acctest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/keymint-dev/terraform-provider-keymint/internal/keymint"
	"github.com/keymint-dev/terraform-provider-keymint/internal/localserver"
)

// Environment variables that point the tests at a live server.
const (
	EnvTestProductID  = "KEYMINT_TEST_PRODUCT_ID"
	EnvTestLicenseKey = "KEYMINT_TEST_LICENSE_KEY"
	// EnvTestAllowReset=1 lets tests reset the live test license.
	EnvTestAllowReset = "KEYMINT_TEST_ALLOW_RESET"
	// EnvTestAllowKeyCreate=1 lets tests create license keys in the live
	// test product (destroy blocks them: KeyMint cannot delete keys).
	EnvTestAllowKeyCreate = "KEYMINT_TEST_ALLOW_KEY_CREATE"
	// EnvTestClientToken names a token that may activate but not read
	// (licenses:activate only), for the tests of scoped tokens; they are
	// skipped live without it.
	EnvTestClientToken = "KEYMINT_TEST_CLIENT_TOKEN"
)

// Local test customer, as the local server reports it.
const (
	CustomerName  = "Acme Test Fleet"
	CustomerEmail = "fleet@acme.test"
)

var (
	setupOnce sync.Once
	env       *Env
)

// Env is the server the acceptance tests run against.
type Env struct {
	// BaseURL and Token are what the provider is configured with.
	BaseURL string
	Token   string
	// Local is the in-process server, or nil when running live.
	Local *localserver.Server
	// Client talks to the same server, for checks made outside Terraform.
	Client *keymint.Client
	// ClientToken may activate and deactivate but not read (scope
	// licenses:activate only); "" when running live without one.
	ClientToken string

	liveProductID  string
	liveLicenseKey string
}

// Setup starts the in-process server (or selects the live one) and exports
// KEYMINT_BASE_URL and KEYMINT_ACCESS_TOKEN so that the provider, which reads
// them, talks to it. It is called from TestMain and returns a function that
// stops the server.
func Setup() (stop func()) {
	stop = func() {}
	setupOnce.Do(func() {
		if live() {
			env = &Env{
				BaseURL:        os.Getenv(keymint.EnvBaseURL),
				Token:          os.Getenv(keymint.EnvAccessToken),
				liveProductID:  os.Getenv(EnvTestProductID),
				liveLicenseKey: os.Getenv(EnvTestLicenseKey),
				ClientToken:    os.Getenv(EnvTestClientToken),
			}
		} else {
			token := "at_acctest_" + randomHex(16)
			client := "at_acctest_client_" + randomHex(16)
			srv, err := localserver.New(localserver.Options{Seed: localserver.Seed{
				AccessTokens: []string{token},
				Tokens:       []localserver.TokenSeed{{Token: client, Scopes: []string{localserver.ScopeLicensesActivate}}},
			}})
			if err != nil {
				panic(fmt.Sprintf("starting the local KeyMint server: %v", err))
			}
			hs := httptest.NewServer(srv.Handler())
			stop = hs.Close
			env = &Env{BaseURL: hs.URL, Token: token, Local: srv, ClientToken: client}
			_ = os.Setenv(keymint.EnvBaseURL, env.BaseURL)
			_ = os.Setenv(keymint.EnvAccessToken, env.Token)
		}
		// The checks watch a license that the provider changes: no shared reads.
		c, err := keymint.New(keymint.Config{
			BaseURL: env.BaseURL, AccessToken: env.Token, UserAgent: "keymint-acctest",
			APIVersion: os.Getenv(keymint.EnvAPIVersion), FreshReads: true,
		})
		if err != nil {
			panic(fmt.Sprintf("KeyMint test client: %v", err))
		}
		env.Client = c
	})
	return stop
}

func live() bool {
	for _, v := range []string{keymint.EnvAccessToken, keymint.EnvBaseURL, EnvTestProductID, EnvTestLicenseKey} {
		if os.Getenv(v) == "" {
			return false
		}
	}
	return true
}

// CheckAPIGeneration verifies, after the tests ran against the local server,
// that the provider spoke the generation KEYMINT_API_VERSION names and never
// the other one.
func CheckAPIGeneration() error {
	if env == nil || env.Local == nil {
		return nil
	}
	// Each generation's calls, by method and path; PATCH /key (update a
	// key) is both's. A run of some tests makes some of them only.
	ours := []string{"POST " + keymint.PathActivateV1, "POST " + keymint.PathDeactivateV1, "POST " + keymint.PathGetKeyV1,
		"POST " + keymint.PathCreateKeyV1, "POST " + keymint.PathBlockKeyV1, "POST " + keymint.PathUnblockKeyV1}
	other := []string{"POST " + keymint.PathActivateV2, "POST " + keymint.PathDeactivateV2, "GET " + keymint.PathGetKeyV2,
		"POST " + keymint.PathCreateKeyV2, "POST " + keymint.PathBlockKeyV2, "POST " + keymint.PathUnblockKeyV2}
	if os.Getenv(keymint.EnvAPIVersion) == keymint.APIv2 {
		ours, other = other, ours
	}
	calls := env.Local.MethodCalls()
	total := 0
	for _, p := range append(ours, other...) {
		total += calls[p]
	}
	if total == 0 { // no acceptance test ran
		return nil
	}
	for _, p := range other {
		if calls[p] > 0 {
			return fmt.Errorf("the tests ran with KEYMINT_API_VERSION=%q, yet the server received %d calls to %s", os.Getenv(keymint.EnvAPIVersion), calls[p], p)
		}
	}
	spoken := 0
	for _, p := range ours {
		spoken += calls[p]
	}
	if spoken == 0 {
		return fmt.Errorf("the tests ran with KEYMINT_API_VERSION=%q, yet the server received no call to any of %s", os.Getenv(keymint.EnvAPIVersion), strings.Join(ours, ", "))
	}
	return nil
}

// Get returns the environment set up by Setup.
func Get(t *testing.T) *Env {
	t.Helper()
	if env == nil {
		t.Fatal("acctest.Setup was not called from TestMain")
	}
	return env
}

// PreCheck fails a test early when the acceptance run is not set up: the
// Terraform CLI must be pinned through TF_ACC_TERRAFORM_PATH, because nothing
// may be downloaded and an arbitrary terraform on PATH proves nothing.
func PreCheck(t *testing.T) {
	t.Helper()
	p := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if p == "" {
		t.Fatal("TF_ACC_TERRAFORM_PATH is not set: run the tests with `make test`, which installs the pinned " +
			"Terraform CLI and sets it, or point it at a Terraform or OpenTofu binary yourself")
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("TF_ACC_TERRAFORM_PATH names %q, which cannot be used: %v", p, err)
	}
}

// Run runs an acceptance test case in parallel with the others: against the
// local server every test has licenses of its own; live, the test shares the
// license with the other tests that run this way, and sees only its own hosts.
func Run(t *testing.T, tc resource.TestCase) {
	t.Helper()
	run(t, tc, Shared)
}

// RunExclusive runs a test case that needs the license to itself (it resets
// it, or counts every seat): in parallel against the local server; live, in
// parallel with the tests that use other licenses only, and alone on the
// shared license.
func RunExclusive(t *testing.T, tc resource.TestCase) {
	t.Helper()
	run(t, tc, Exclusive)
}

// run runs tc in parallel; live, after taking the test license as take does.
func run(t *testing.T, tc resource.TestCase, take func(*testing.T)) {
	t.Helper()
	if Get(t).Local != nil {
		resource.ParallelTest(t, tc)
		return
	}
	t.Parallel()
	take(t)
	resource.Test(t, tc)
}

// licenseLock is held shared by the live tests that use the test license
// alongside others, and exclusively by those that need it to themselves.
var (
	licenseLock sync.RWMutex
	exclusiveMu sync.Mutex
	exclusive   = map[string]bool{} // top-level test names holding licenseLock exclusively
)

// Shared takes the live test license shared until the test ends; against
// the local server it does nothing. Call it after t.Parallel.
func Shared(t *testing.T) {
	t.Helper()
	if Get(t).Local != nil {
		return
	}
	licenseLock.RLock()
	t.Cleanup(licenseLock.RUnlock)
}

// Exclusive takes the live test license for this test alone until it ends;
// against the local server it does nothing. Call it after t.Parallel.
func Exclusive(t *testing.T) {
	t.Helper()
	if Get(t).Local != nil {
		return
	}
	licenseLock.Lock()
	exclusiveMu.Lock()
	exclusive[topLevel(t)] = true
	exclusiveMu.Unlock()
	t.Cleanup(func() {
		exclusiveMu.Lock()
		delete(exclusive, topLevel(t))
		exclusiveMu.Unlock()
		licenseLock.Unlock()
	})
}

// isExclusive reports whether t holds the live license exclusively.
func isExclusive(t *testing.T) bool {
	exclusiveMu.Lock()
	defer exclusiveMu.Unlock()
	return exclusive[topLevel(t)]
}

// topLevel is the name of the top-level test of t.
func topLevel(t *testing.T) string {
	name, _, _ := strings.Cut(t.Name(), "/")
	return name
}

// IsLocal reports whether the tests run against the in-process server.
func (e *Env) IsLocal() bool { return e.Local != nil }

// RequireLocal skips a test that has to shape licenses itself.
func RequireLocal(t *testing.T) *localserver.Server {
	t.Helper()
	e := Get(t)
	if e.Local == nil {
		t.Skip("needs the bundled local server (it creates licenses with their own seat limits)")
	}
	return e.Local
}

// IsolatedServer starts a local server of the test's own, accepting the same
// token, and fails the test if anything reached it when the test ends: for
// tests that prove bad input is refused before any API call. Configurations
// point the provider at it with provider "keymint" { base_url = … }.
func IsolatedServer(t *testing.T) (baseURL string) {
	t.Helper()
	e := Get(t)
	srv, err := localserver.New(localserver.Options{Seed: localserver.Seed{AccessTokens: []string{e.Token}}})
	if err != nil {
		t.Fatalf("starting an isolated server: %v", err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		hs.Close()
		if n := srv.TotalCalls(); n != 0 {
			t.Errorf("bad input reached the API: %d call(s) %v; it must be refused before any call", n, srv.Calls())
		}
	})
	return hs.URL
}

// License is a product ID and license key for one test.
type License struct {
	ProductID string
	Key       string
}

// NewLicense returns a license for one test: a fresh one with the given seat
// limit (0 = unlimited) on the local server, or the configured test license
// when running live.
func NewLicense(t *testing.T, seats int) License {
	t.Helper()
	e := Get(t)
	if e.Local == nil {
		return License{ProductID: e.liveProductID, Key: e.liveLicenseKey}
	}
	l := License{
		ProductID: "prod_acctest_" + randomHex(8),
		Key:       "lk_acctest_" + randomHex(16),
	}
	seed := localserver.LicenseSeed{
		Key:      l.Key,
		Customer: &localserver.Customer{ID: "cus_acctest", Name: CustomerName, Email: CustomerEmail, Active: true},
	}
	if seats > 0 {
		seed.MaxActivations = &seats
	}
	if err := e.Local.AddLicense(l.ProductID, seed); err != nil {
		t.Fatalf("adding a test license: %v", err)
	}
	return l
}

// NewLocalLicense adds a license shaped by shape to the local server (the
// test is skipped when running live): for licenses that are unlimited,
// blocked, expiring or without customer.
func NewLocalLicense(t *testing.T, shape func(*localserver.LicenseSeed)) License {
	t.Helper()
	srv := RequireLocal(t)
	l := License{
		ProductID: "prod_acctest_" + randomHex(8),
		Key:       "lk_acctest_" + randomHex(16),
	}
	seed := localserver.LicenseSeed{Key: l.Key}
	shape(&seed)
	if err := srv.AddLicense(l.ProductID, seed); err != nil {
		t.Fatalf("adding a test license: %v", err)
	}
	return l
}

// NewProduct returns a product for a test that creates license keys: a
// fresh one on the local server, or the configured test product when
// running live, where the test is skipped unless
// KEYMINT_TEST_ALLOW_KEY_CREATE=1 allows it to create keys there (and block
// them when it ends).
func NewProduct(t *testing.T) string {
	t.Helper()
	e := Get(t)
	if e.Local == nil {
		if os.Getenv(EnvTestAllowKeyCreate) != "1" {
			t.Skipf("creates license keys in the test product, and blocks them; set %s=1 to allow it on a live server", EnvTestAllowKeyCreate)
		}
		return e.liveProductID
	}
	id := "prod_acctest_" + randomHex(8)
	if err := e.Local.AddProduct(id); err != nil {
		t.Fatalf("adding a test product: %v", err)
	}
	return id
}

// RequireResettable skips a test that deactivates every device of its
// license when running live, unless KEYMINT_TEST_ALLOW_RESET=1 says that the
// test license holds no device that matters.
func RequireResettable(t *testing.T) {
	t.Helper()
	if !Get(t).IsLocal() && os.Getenv(EnvTestAllowReset) != "1" {
		t.Skipf("resets every device of the test license; set %s=1 to allow it on a live server", EnvTestAllowReset)
	}
}

// HostID returns a host ID unique to this run, so that live runs never touch
// real devices. Its prefix is the test's own (hostPrefix), so that Hosts can
// tell the test's hosts from those of other tests sharing a live license.
func HostID(t *testing.T, name string) string {
	return hostPrefix(t) + name + "-" + randomHex(4)
}

// hostPrefix starts the host IDs of t's top-level test.
func hostPrefix(t *testing.T) string {
	sum := sha256.Sum256([]byte(topLevel(t)))
	return "tfacc-" + hex.EncodeToString(sum[:3]) + "-"
}

// Hosts lists the host IDs that hold seats of l, as the server reports them.
// Live, where tests share the license, a test that does not hold it
// exclusively sees only the hosts it named with HostID.
func Hosts(t *testing.T, l License) ([]string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	lic, err := Get(t).Client.GetKey(ctx, l.ProductID, l.Key)
	if err != nil {
		return nil, err
	}
	hosts := lic.HostIDs()
	if Get(t).Local == nil && !isExclusive(t) {
		prefix := hostPrefix(t)
		hosts = slices.DeleteFunc(hosts, func(h string) bool { return !strings.HasPrefix(h, prefix) })
	}
	return hosts, nil
}

// Deactivate frees a host's seat behind Terraform's back.
func Deactivate(t *testing.T, l License, hostID string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := Get(t).Client.Deactivate(ctx, l.ProductID, l.Key, hostID); err != nil {
		t.Fatalf("out-of-band deactivation of %q: %v", hostID, err)
	}
}

// Activate takes a seat for a host behind Terraform's back. Live, the seat
// is given back when the test ends, if it is still held, so that the shared
// license is left as it was found.
func Activate(t *testing.T, l License, hostID, tag string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	e := Get(t)
	_, err := e.Client.Activate(ctx, keymint.ActivateInput{ProductID: l.ProductID, LicenseKey: l.Key, HostID: hostID, DeviceTag: tag})
	if err != nil {
		t.Fatalf("out-of-band activation of %q: %v", hostID, err)
	}
	if e.Local == nil {
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if _, err := e.Client.Deactivate(ctx, l.ProductID, l.Key, hostID); err != nil && !keymint.IsDeviceNotFound(err) && !keymint.IsNotActivated(err) {
				t.Errorf("giving back the seat of %q after the test: %v", hostID, err)
			}
		})
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// LiveVariables are the variables that, all set, point the acceptance tests
// at a live server; offline runs remove them from the environment.
var LiveVariables = []string{keymint.EnvAccessToken, keymint.EnvBaseURL, EnvTestProductID, EnvTestLicenseKey}
