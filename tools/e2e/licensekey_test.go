//go:build unix

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keymint-dev/terraform-provider-keymint/internal/localserver"
)

// TestLicenseKeyPlanSays: the plan tells, in the CLI's own output, what
// KeyMint does when a key's seat limit is lowered below the seats in use
// (it keeps the devices), and that destroying a key blocks it; and both
// happen as said.
func TestLicenseKeyPlanSays(t *testing.T) {
	e := newEnv(t, 0)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	config := func(seats int) string {
		return preamble + fmt.Sprintf(`
resource "keymint_license_key" "ci" {
  product_id      = var.product_id
  max_activations = %d
}

resource "keymint_device_activation" "runner" {
  for_each    = toset(["runner-1", "runner-2"])
  product_id  = keymint_license_key.ci.product_id
  license_key = keymint_license_key.ci.key
  host_id     = each.key
}
`, seats)
	}
	write := func(s string) {
		t.Helper()
		if err := e.ws.WriteFile("main.tf", s); err != nil {
			t.Fatal(err)
		}
	}
	write(config(3))
	e.run(ctx, "apply", "-auto-approve", "-input=false", "-no-color")
	key := createdKeys(t, e)
	if devs, err := e.srv.Devices(e.product, key); err != nil || len(devs) != 2 {
		t.Fatalf("the created key holds %d devices (%v), want 2", len(devs), err)
	}

	write(config(1))
	plan := e.run(ctx, "plan", "-input=false", "-no-color")
	out := strings.Join(strings.Fields(plan.Stdout+plan.Stderr), " ")
	for _, want := range []string{
		"keymint_license_key.ci will be updated in-place",
		"Seat limit below the seats in use",
		"goes down to 1 while 2 devices hold seats",
		"the devices keep their seats, but no new device can be activated until 2 of them are deactivated",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the plan does not say %q:\n%s", want, plan.Stdout+plan.Stderr)
		}
	}
	e.run(ctx, "apply", "-auto-approve", "-input=false", "-no-color")
	if devs, _ := e.srv.Devices(e.product, key); len(devs) != 2 {
		t.Errorf("after lowering the limit the key holds %d devices, want the 2 it had", len(devs))
	}
	e.expectPlanEmpty(ctx)

	plan = e.run(ctx, "plan", "-destroy", "-input=false", "-no-color")
	out = strings.Join(strings.Fields(plan.Stdout+plan.Stderr), " ")
	for _, want := range []string{"keymint_license_key.ci will be destroyed", "Destroying a license key blocks it", "prevent_destroy", "terraform state rm"} {
		if !strings.Contains(out, want) {
			t.Errorf("the destroy plan does not say %q:\n%s", want, plan.Stdout+plan.Stderr)
		}
	}
	e.run(ctx, "destroy", "-auto-approve", "-input=false", "-no-color")
	if devs, _ := e.srv.Devices(e.product, key); len(devs) != 0 {
		t.Errorf("destroy left %d devices on the key", len(devs))
	}
	if !slices.ContainsFunc(e.srv.Licenses(), func(r localserver.LicenseRow) bool { return r.MaskedKey == localserver.MaskKey(key) && r.Blocked }) {
		t.Errorf("destroy did not block the key: %+v", e.srv.Licenses())
	}
}

// keysOf returns the keys of the test's product that Terraform created
// (all but the one the server started with), with the server's summary of
// each.
func keysOf(e *env) map[string]localserver.LicenseRow {
	e.t.Helper()
	rows := map[string]localserver.LicenseRow{}
	for _, r := range e.srv.Licenses() {
		rows[r.MaskedKey] = r
	}
	out := map[string]localserver.LicenseRow{}
	for _, k := range e.srv.Keys(e.product) {
		if k != e.key {
			out[k] = rows[localserver.MaskKey(k)]
		}
	}
	return out
}

// TestExampleKeyPerEnvironment runs the key-per-environment scenario: a key
// per environment, its machines activated with it in the same apply; a
// seat limit raised in place; destroy frees every seat and blocks every key.
func TestExampleKeyPerEnvironment(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	e := newEnv(t, 1)
	e.useExample("scenarios/key-per-environment", false)

	out := e.run(ctx, apply()...)
	if !strings.Contains(out.Stdout, `"production" = 2`) || !strings.Contains(out.Stdout, `"staging" = 1`) {
		t.Errorf("seats_in_use is not staging 1, production 2:\n%s", out.Stdout)
	}
	keys := keysOf(e)
	if len(keys) != 2 {
		t.Fatalf("the apply created %d keys, want one per environment", len(keys))
	}
	for key, row := range keys {
		devs, _ := e.srv.Devices(e.product, key)
		switch {
		case row.MaxActivations != nil && *row.MaxActivations == 2 && len(devs) == 1 && devs[0].HostID == "stg-web-1":
		case row.MaxActivations != nil && *row.MaxActivations == 5 && len(devs) == 2:
		default:
			t.Errorf("key %s: %+v with devices %+v", row.MaskedKey, row, devs)
		}
	}
	e.expectPlanEmpty(ctx)

	// More seats for production: in place, the same keys.
	more := `-var=environments={staging={seats=2,hosts=["stg-web-1"]},production={seats=8,hosts=["prd-web-1","prd-web-2"]}}`
	plan := e.run(ctx, "plan", "-input=false", "-no-color", more)
	if !strings.Contains(plan.Stdout, "1 to change, 0 to destroy") {
		t.Errorf("raising a seat limit is not one change in place:\n%s", plan.Stdout)
	}
	e.run(ctx, apply(more)...)
	after := keysOf(e)
	if len(after) != 2 {
		t.Fatalf("after raising the limit there are %d keys, want the same 2", len(after))
	}
	for key := range keys {
		if _, ok := after[key]; !ok {
			t.Error("raising the limit replaced a key")
		}
	}
	e.expectPlanEmptyWith(ctx, more)

	e.run(ctx, "destroy", "-auto-approve", "-input=false", "-no-color", more)
	for key, row := range keysOf(e) {
		if devs, _ := e.srv.Devices(e.product, key); !row.Blocked || len(devs) != 0 {
			t.Errorf("after destroy key %s: %+v with %d devices, want blocked with none", row.MaskedKey, row, len(devs))
		}
	}
}

// TestExampleLicenseKeyResource runs the resource page's example (its
// import examples aside).
func TestExampleLicenseKeyResource(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	e := newEnv(t, 1)
	e.useExample("resources/keymint_license_key", true)
	if err := os.Remove(filepath.Join(e.ws.Dir, "import-by-string-id.tf")); err != nil {
		t.Fatal(err)
	}
	e.run(ctx, apply()...)
	keys := keysOf(e)
	if len(keys) != 2 {
		t.Fatalf("the example created %d keys, want 2", len(keys))
	}
	formatted := 0
	for key := range keys {
		if strings.HasPrefix(key, "CI-") && len(key) == len("CI-")+17 {
			formatted++
		}
	}
	if formatted != 1 {
		t.Errorf("%d keys in the CI format, want 1", formatted)
	}
	e.expectPlanEmpty(ctx)
	e.run(ctx, "destroy", "-auto-approve", "-input=false", "-no-color")
	for _, row := range keysOf(e) {
		if !row.Blocked || row.Activations != 0 {
			t.Errorf("after destroy: %+v", row)
		}
	}
}
