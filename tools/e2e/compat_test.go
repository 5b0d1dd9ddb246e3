package e2e

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/hashicorp/go-version"

	"github.com/keymint-dev/terraform-provider-keymint/tools/clirun"
)

// envCLIs lists further CLIs (absolute paths, separated by spaces) for
// TestSupportedCLIs, such as the oldest releases the docs name as
// supported; the CLI of the run (TF_ACC_TERRAFORM_PATH) is always one.
const envCLIs = "KEYMINT_E2E_CLIS"

// TestSupportedCLIs drives every resource type but the ones that need a
// newer CLI (actions) through the built provider under each CLI: a license
// key created with 3 seats, an activation and a fleet using it, and the
// data source reading it; a re-plan that is empty; the activation removed
// from state and imported again with `import` (and, from Terraform 1.5 and
// in every OpenTofu, an import block); destroy, after which the license
// holds no seat. docs/index.md's "Requirements" are what this test passed
// with.
func TestSupportedCLIs(t *testing.T) {
	clis := []string{os.Getenv("TF_ACC_TERRAFORM_PATH")}
	clis = append(clis, strings.Fields(os.Getenv(envCLIs))...)
	for _, cli := range clis {
		name, ver := cliVersion(t, cli)
		t.Run(name+"_"+ver.String(), func(t *testing.T) {
			t.Parallel()
			testOneCLI(t, cli, name, ver)
		})
	}
}

// cliVersion asks a CLI for its name and version.
func cliVersion(t *testing.T, cli string) (string, *version.Version) {
	t.Helper()
	ws, err := clirun.NewWorkspace(t.TempDir(), cli, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := ws.Run(t.Context(), "version", "-json")
	if err != nil {
		t.Fatalf("%s version: %v", cli, err)
	}
	var out struct {
		TerraformVersion string `json:"terraform_version"`
	}
	if err := json.Unmarshal([]byte(res.Stdout), &out); err != nil {
		t.Fatalf("%s version -json: %v: %s", cli, err, res.Stdout)
	}
	v, err := version.NewVersion(out.TerraformVersion)
	if err != nil {
		t.Fatal(err)
	}
	name := "terraform"
	if strings.Contains(strings.ToLower(cli), "tofu") {
		name = "tofu"
	}
	return name, v.Core()
}

func testOneCLI(t *testing.T, cli, name string, ver *version.Version) {
	e := newEnvWith(t, envOptions{seats: 3, cli: cli})
	ctx := t.Context()
	config := preamble + `
resource "keymint_license_key" "env" {
  product_id      = var.product_id
  max_activations = 3
}

resource "keymint_device_activation" "agent" {
  product_id  = var.product_id
  license_key = keymint_license_key.env.key
  host_id     = "agent-1"
}

resource "keymint_license_activations" "fleet" {
  product_id  = var.product_id
  license_key = keymint_license_key.env.key
  host_ids    = ["fleet-1", "fleet-2"]
  device_tag  = "ci"
}

data "keymint_license" "env" {
  product_id  = var.product_id
  license_key = keymint_license_key.env.key
  depends_on  = [keymint_device_activation.agent, keymint_license_activations.fleet]
}

output "seats_available" { value = data.keymint_license.env.seats_available }
`
	if err := e.ws.WriteFile("main.tf", config); err != nil {
		t.Fatal(err)
	}
	res := e.run(ctx, "apply", "-input=false", "-auto-approve", "-no-color")
	if !strings.Contains(res.Stdout, "seats_available = 0") {
		t.Fatalf("after apply, the data source does not see 3 seats taken:\n%s", res.Stdout)
	}
	e.expectPlanEmpty(ctx)

	// The created key is in state only: the import ID names it through an
	// environment variable, as users are told to.
	key := stateAttribute(t, e, "keymint_license_key.env", "key")
	e.ws.Setenv("COMPAT_KEY=" + key)
	importID := e.product + "/env:COMPAT_KEY/agent-1"
	e.run(ctx, "state", "rm", "keymint_device_activation.agent")
	e.run(ctx, "import", "-input=false", "-no-color", "keymint_device_activation.agent", importID)
	e.run(ctx, "apply", "-input=false", "-auto-approve", "-no-color") // records the key's sensitivity, as after any import
	e.expectPlanEmpty(ctx)

	if name == "tofu" || ver.GreaterThanOrEqual(version.Must(version.NewVersion("1.5.0"))) {
		e.run(ctx, "state", "rm", "keymint_device_activation.agent")
		block := "\nimport {\n  to = keymint_device_activation.agent\n  id = \"" + importID + "\"\n}\n"
		if err := e.ws.WriteFile("import.tf", block); err != nil {
			t.Fatal(err)
		}
		res = e.run(ctx, "apply", "-input=false", "-auto-approve", "-no-color")
		if !strings.Contains(res.Stdout, "1 imported") {
			t.Fatalf("the import block imported nothing:\n%s", res.Stdout)
		}
		if err := os.Remove(e.ws.Dir + "/import.tf"); err != nil {
			t.Fatal(err)
		}
		e.expectPlanEmpty(ctx)
	}

	e.run(ctx, "destroy", "-input=false", "-auto-approve", "-no-color")
	devs, err := e.srv.Devices(e.product, key)
	if err != nil || len(devs) != 0 {
		t.Errorf("after destroy, the created key still has seats taken: %v, %v", devs, err)
	}
}

// stateAttribute reads one attribute of a resource from `show -json`.
func stateAttribute(t *testing.T, e *env, address, attr string) string {
	t.Helper()
	res := e.run(t.Context(), "show", "-json")
	var state struct {
		Values struct {
			RootModule struct {
				Resources []struct {
					Address string         `json:"address"`
					Values  map[string]any `json:"values"`
				} `json:"resources"`
			} `json:"root_module"`
		} `json:"values"`
	}
	if err := json.Unmarshal([]byte(res.Stdout), &state); err != nil {
		t.Fatal(err)
	}
	for _, r := range state.Values.RootModule.Resources {
		if r.Address == address {
			if s, ok := r.Values[attr].(string); ok && s != "" {
				return s
			}
		}
	}
	t.Fatalf("no %s.%s in state", address, attr)
	return ""
}
