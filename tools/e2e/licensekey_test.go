//go:build unix

package e2e

import (
	"context"
	"fmt"
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
