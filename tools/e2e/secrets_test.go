//go:build unix

package e2e

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keymint-dev/terraform-provider-keymint/internal/localserver"
)

// TestSecretsNeverLogged runs create, read, import, destroy and a seat-limit
// error (of keymint_device_activation and of keymint_license_activations),
// the data source, the reset, a refused token, and the lifecycle of a
// license key Terraform creates, with TF_LOG=TRACE, and checks that neither
// the access token nor any license key (given or created) appears in the
// log, in any output or in any error message.
func TestSecretsNeverLogged(t *testing.T) {
	log := logFile(t)
	e := newEnv(t, 2, "TF_LOG=TRACE", "TF_LOG_PATH="+log, "KEYMINT_E2E_KEY=")
	e.ws.Setenv("KEYMINT_E2E_KEY=" + e.key)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()

	var outputs []string
	run := func(wantErr bool, args ...string) {
		t.Helper()
		res, err := e.ws.Run(ctx, args...)
		outputs = append(outputs, res.Stdout, res.Stderr)
		if (err != nil) != wantErr {
			t.Fatalf("%s: err = %v, want error: %v\n%s\n%s", strings.Join(args, " "), err, wantErr, res.Stdout, res.Stderr)
		}
	}

	e.writeFleet(2)
	run(false, "apply", "-auto-approve", "-input=false", "-no-color") // create
	run(false, "plan", "-input=false", "-no-color")                   // read
	run(false, "state", "rm", `keymint_device_activation.host["host-0001"]`)
	run(false, "import", "-input=false", "-no-color", `keymint_device_activation.host["host-0001"]`,
		e.product+"/env:KEYMINT_E2E_KEY/host-0001") // import
	e.writeFleet(3)
	run(true, "apply", "-auto-approve", "-input=false", "-no-color") // the third host finds no seat
	if !strings.Contains(outputs[len(outputs)-1], "License seat limit reached") {
		t.Fatalf("no seat-limit error:\n%s", outputs[len(outputs)-1])
	}
	e.writeFleet(2)
	run(false, "destroy", "-auto-approve", "-input=false", "-no-color") // delete

	// The same for a fleet in one resource, with a stray device it frees.
	if err := e.srv.ActivateDevice(e.product, e.key, "stray", "ci", "10.0.0.9"); err != nil {
		t.Fatal(err)
	}
	e.writeActivations([]string{"host-0000", "host-0001"}, true)
	run(false, "apply", "-auto-approve", "-input=false", "-no-color") // create, freeing the stray
	run(false, "plan", "-input=false", "-no-color")                   // read
	run(false, "state", "rm", "keymint_license_activations.fleet")
	run(false, "import", "-input=false", "-no-color", "keymint_license_activations.fleet", e.product+"/env:KEYMINT_E2E_KEY/ci") // import
	e.writeActivations([]string{"host-0000", "host-0001", "host-0002"}, true)
	run(true, "plan", "-input=false", "-no-color") // the third host finds no seat
	if !strings.Contains(outputs[len(outputs)-1], "License seat limit reached") {
		t.Fatalf("no seat-limit error for the fleet:\n%s", outputs[len(outputs)-1])
	}
	e.writeActivations([]string{"host-0000", "host-0001"}, true)
	run(false, "destroy", "-auto-approve", "-input=false", "-no-color") // delete
	if got := e.hosts(); len(got) != 0 {
		t.Fatalf("after destroying the fleet the server holds %q", got)
	}

	// The data source and the reset, with a known key and then an unknown one.
	if err := e.ws.WriteFile("main.tf", licenseConfig); err != nil {
		t.Fatal(err)
	}
	run(false, "apply", "-auto-approve", "-input=false", "-no-color")
	unknown := "LK-UNKNOWN-" + strings.ToUpper(randomHex(12))
	e.ws.Setenv("TF_VAR_license_key=" + unknown)
	run(true, "apply", "-auto-approve", "-input=false", "-no-color")
	if !strings.Contains(outputs[len(outputs)-1], "Cannot read the license of product "+e.product) {
		t.Fatalf("no not-found error naming the product:\n%s", outputs[len(outputs)-1])
	}
	e.ws.Setenv("TF_VAR_license_key=" + e.key)

	// A key Terraform creates, passed to an activation and the data source
	// in the same apply, changed in place, imported from the environment,
	// and blocked by destroy: it is known to the provider and the server
	// only, and must show nowhere either.
	if err := e.ws.WriteFile("main.tf", keyConfig(2)); err != nil {
		t.Fatal(err)
	}
	run(false, "apply", "-auto-approve", "-input=false", "-no-color")
	created := createdKeys(t, e)
	e.ws.Setenv("KEYMINT_E2E_NEWKEY=" + created)
	run(false, "plan", "-input=false", "-no-color")
	if err := e.ws.WriteFile("main.tf", keyConfig(4)); err != nil {
		t.Fatal(err)
	}
	run(false, "apply", "-auto-approve", "-input=false", "-no-color") // in place
	run(false, "state", "rm", "keymint_license_key.env")
	run(false, "import", "-input=false", "-no-color", "keymint_license_key.env", e.product+"/env:KEYMINT_E2E_NEWKEY")
	run(false, "apply", "-auto-approve", "-input=false", "-no-color") // the metadata, which import cannot read
	run(false, "destroy", "-auto-approve", "-input=false", "-no-color")
	if lic := e.srv.Licenses(); !slices.ContainsFunc(lic, func(r localserver.LicenseRow) bool {
		return r.MaskedKey == localserver.MaskKey(created) && r.Blocked && r.Activations == 0
	}) {
		t.Errorf("destroy did not block the created key and free its seat: %+v", lic)
	}
	if err := e.ws.WriteFile("main.tf", licenseConfig); err != nil {
		t.Fatal(err)
	}

	wrong := "at_wrong_" + randomHex(16)
	e.ws.Setenv("KEYMINT_ACCESS_TOKEN=" + wrong)
	run(true, "apply", "-auto-approve", "-input=false", "-no-color") // 401
	if !strings.Contains(outputs[len(outputs)-1], "refused the access token") {
		t.Fatalf("no 401 error:\n%s", outputs[len(outputs)-1])
	}

	raw, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	logText := string(raw)
	if !strings.Contains(logText, "KeyMint API request") || !strings.Contains(logText, e.product) ||
		!strings.Contains(logText, "devices_removed") || !strings.Contains(logText, "create-key") || !strings.Contains(logText, "block-key") ||
		!strings.Contains(logText, "keymint_license_activations: applying") {
		t.Fatal("the TRACE log holds no provider request with its body; the test would prove nothing")
	}
	for _, secret := range []string{e.token, e.key, wrong, unknown, created} {
		if i := strings.Index(logText, secret); i >= 0 {
			t.Errorf("the TRACE log holds a secret: …%s…", logText[max(0, i-200):i])
		}
		for _, out := range outputs {
			if strings.Contains(out, secret) {
				t.Errorf("CLI output holds a secret:\n%s", out)
			}
		}
	}
	t.Logf("checked %d KiB of TRACE log and %d outputs", len(raw)/1024, len(outputs))
}

// licenseConfig reads the license and resets it.
const licenseConfig = preamble + `
data "keymint_license" "this" {
  product_id  = var.product_id
  license_key = var.license_key
}

resource "keymint_license_reset" "this" {
  product_id  = var.product_id
  license_key = var.license_key
}

output "seats_in_use" {
  value = data.keymint_license.this.activations
}
`

// keyConfig creates a license key with the given seats, activates a host
// with it and reads it with the data source, in one configuration.
func keyConfig(seats int) string {
	return preamble + fmt.Sprintf(`
resource "keymint_license_key" "env" {
  product_id      = var.product_id
  max_activations = %d
  metadata        = { environment = "e2e" }
}

resource "keymint_device_activation" "web" {
  product_id  = keymint_license_key.env.product_id
  license_key = keymint_license_key.env.key
  host_id     = "web-1"
}

data "keymint_license" "env" {
  product_id  = keymint_license_key.env.product_id
  license_key = keymint_license_key.env.key
  depends_on  = [keymint_device_activation.web]
}

output "key_id" {
  value = keymint_license_key.env.id
}

output "seats_in_use" {
  value = data.keymint_license.env.activations
}
`, seats)
}

// createdKeys returns the one key of the test's product that the test's
// server did not start with: the key Terraform created.
func createdKeys(t *testing.T, e *env) string {
	t.Helper()
	var created []string
	for _, k := range e.srv.Keys(e.product) {
		if k != e.key {
			created = append(created, k)
		}
	}
	if len(created) != 1 {
		t.Fatalf("the server holds %d created keys, want 1", len(created))
	}
	return created[0]
}
