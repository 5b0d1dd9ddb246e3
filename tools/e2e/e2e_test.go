//go:build unix

// Package e2e runs the built provider binary under a real Terraform (or
// OpenTofu) CLI against the bundled server, for what the in-process
// acceptance tests cannot do: inject faults, interrupt an apply, raise
// -parallelism, and read the CLI's own logs.
package e2e

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keymint-dev/terraform-provider-keymint/internal/localserver"
	"github.com/keymint-dev/terraform-provider-keymint/tools/clirun"
)

// providerDir holds the provider binary built for this run.
var providerDir string

// buildVersion is the version the provider binary is built with, the way
// the release build sets it.
const buildVersion = "0.0.0-e2e"

func TestMain(m *testing.M) {
	if os.Getenv("TF_ACC_TERRAFORM_PATH") == "" || os.Getenv("TF_ACC") == "" {
		fmt.Println("e2e: skipped; run with `make test` (it sets TF_ACC and TF_ACC_TERRAFORM_PATH)")
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "keymint-e2e-provider")
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	_, err = clirun.BuildBinary(ctx, dir, "terraform-provider-keymint", ".",
		"-ldflags=-X main.version="+buildVersion)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building the provider:", err)
		os.Exit(1)
	}
	providerDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// env is one test's server, license and CLI workspace.
type env struct {
	t       *testing.T
	srv     *localserver.Server
	url     string
	token   string
	product string
	key     string
	ws      *clirun.Workspace
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newEnv starts a server of the test's own with one license of the given
// seats (0 = unlimited) and a workspace whose provider talks to it. Retries
// wait briefly, so that fault tests finish quickly.
func newEnv(t *testing.T, seats int, extraEnv ...string) *env {
	t.Helper()
	return newEnvWith(t, envOptions{seats: seats, env: extraEnv})
}

// envOptions shape the server of newEnvWith the way the hosted service is
// shaped for some users.
type envOptions struct {
	seats int    // 0 = unlimited
	key   string // "" = a random key of the usual format
	// tokens are further access tokens with scopes; the provider uses the
	// first one, when there is one, instead of the all-scopes token.
	tokens []localserver.TokenSeed
	// rateLimit limits every token's requests.
	rateLimit localserver.RateLimit
	// api serves one generation of paths only ("v1" or "v2").
	api string
	env []string
	// cli is the CLI to drive; "" is the run's (TF_ACC_TERRAFORM_PATH).
	cli string
}

// newEnvWith is newEnv with the server shaped by opts.
func newEnvWith(t *testing.T, opts envOptions) *env {
	t.Helper()
	e := &env{
		t:       t,
		token:   "at_e2e_" + randomHex(16),
		product: "prod_e2e_" + randomHex(8),
		key:     cmp.Or(opts.key, "LK-E2E-"+strings.ToUpper(randomHex(12))),
	}
	seats := opts.seats
	lic := localserver.LicenseSeed{Key: e.key, Customer: &localserver.Customer{ID: "cus_e2e", Name: "E2E Fleet", Email: "e2e@example.test", Active: true}}
	if seats > 0 {
		lic.MaxActivations = &seats
	}
	srv, err := localserver.New(localserver.Options{
		Seed: localserver.Seed{
			AccessTokens: []string{e.token},
			Tokens:       opts.tokens,
			Products:     []localserver.ProductSeed{{ID: e.product, Licenses: []localserver.LicenseSeed{lic}}},
		},
		RateLimit: opts.rateLimit,
		API:       opts.api,
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	e.srv, e.url = srv, hs.URL

	providerToken := e.token
	if len(opts.tokens) > 0 {
		providerToken = opts.tokens[0].Token
	}
	env := append([]string{
		"KEYMINT_BASE_URL=" + e.url,
		"KEYMINT_ACCESS_TOKEN=" + providerToken,
		"KEYMINT_MAX_RETRIES=10",
		"KEYMINT_RETRY_WAIT_MIN=20ms",
		"KEYMINT_RETRY_WAIT_MAX=2s",
		"TF_VAR_product_id=" + e.product,
		"TF_VAR_license_key=" + e.key,
	}, opts.env...)
	ws, err := clirun.NewWorkspace(t.TempDir(), cmp.Or(opts.cli, os.Getenv("TF_ACC_TERRAFORM_PATH")),
		map[string]string{"keymint-dev/keymint": providerDir}, env...)
	if err != nil {
		t.Fatal(err)
	}
	e.ws = ws
	return e
}

// hostIDs are the host IDs of a fleet of n.
func hostIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("host-%04d", i)
	}
	return ids
}

// preamble starts the tests' configurations: the provider's source and the
// license variables, which newEnv sets.
const preamble = `
terraform {
  required_providers {
    keymint = { source = "keymint-dev/keymint" }
  }
}

variable "product_id" { type = string }
variable "license_key" {
  type      = string
  sensitive = true
}
`

// writeFleet writes a configuration of n activations of the license.
func (e *env) writeFleet(n int) {
	e.t.Helper()
	config := preamble + fmt.Sprintf(`
resource "keymint_device_activation" "host" {
  for_each    = toset([for i in range(%d) : format("host-%%04d", i)])
  product_id  = var.product_id
  license_key = var.license_key
  host_id     = each.key
}
`, n)
	if err := e.ws.WriteFile("main.tf", config); err != nil {
		e.t.Fatal(err)
	}
}

// run runs the CLI and fails the test on an error.
func (e *env) run(ctx context.Context, args ...string) clirun.Result {
	e.t.Helper()
	res, err := e.ws.Run(ctx, args...)
	if err != nil {
		e.t.Fatalf("%v", err)
	}
	return res
}

// hosts lists the host IDs the server holds seats for, sorted.
func (e *env) hosts() []string {
	e.t.Helper()
	devs, err := e.srv.Devices(e.product, e.key)
	if err != nil {
		e.t.Fatal(err)
	}
	ids := make([]string, len(devs))
	for i, d := range devs {
		ids[i] = d.HostID
	}
	slices.Sort(ids)
	return ids
}

// stateHosts lists the host IDs of the activations in Terraform's state.
func (e *env) stateHosts(ctx context.Context) []string {
	e.t.Helper()
	res, err := e.ws.Run(ctx, "state", "list")
	if err != nil {
		if code, _ := clirun.ExitCode(err); code == 1 && strings.Contains(res.Stderr, "No state file") {
			return nil
		}
		e.t.Fatalf("%v", err)
	}
	var ids []string
	for _, line := range strings.Split(strings.TrimSpace(res.Stdout), "\n") {
		if _, rest, ok := strings.Cut(line, `keymint_device_activation.host["`); ok {
			ids = append(ids, strings.TrimSuffix(rest, `"]`))
		}
	}
	slices.Sort(ids)
	return ids
}

// taintedHosts lists the activations that state marks tainted: recorded
// because their outcome was unknown, to be replaced by the next apply.
func (e *env) taintedHosts(ctx context.Context) map[string]bool {
	e.t.Helper()
	res := e.run(ctx, "show", "-json")
	var doc struct {
		Values struct {
			RootModule struct {
				Resources []struct {
					Type    string          `json:"type"`
					Index   json.RawMessage `json:"index"`
					Tainted bool            `json:"tainted"`
				} `json:"resources"`
			} `json:"root_module"`
		} `json:"values"`
	}
	if err := json.Unmarshal([]byte(res.Stdout), &doc); err != nil {
		e.t.Fatalf("show -json: %v", err)
	}
	out := map[string]bool{}
	for _, r := range doc.Values.RootModule.Resources {
		var host string
		if r.Type == "keymint_device_activation" && r.Tainted && json.Unmarshal(r.Index, &host) == nil {
			out[host] = true
		}
	}
	return out
}

// expectPlanEmpty runs plan -detailed-exitcode and fails unless it is 0.
func (e *env) expectPlanEmpty(ctx context.Context) {
	e.t.Helper()
	res, err := e.ws.Run(ctx, "plan", "-input=false", "-detailed-exitcode", "-no-color")
	if err != nil {
		code, _ := clirun.ExitCode(err)
		e.t.Fatalf("re-plan is not empty (exit %d):\n%s", code, res.Stdout)
	}
}

// logFile is where TF_LOG output of the test goes.
func logFile(t *testing.T) string { return filepath.Join(t.TempDir(), "terraform.log") }
