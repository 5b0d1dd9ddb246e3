package provider

import (
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/keymint-dev/terraform-provider-keymint/tools/acctest"
)

// clientTokenProvider configures the provider with the token that may
// activate but not read (licenses:activate only), as KeyMint's "client"
// tokens shipped in desktop apps; the test is skipped live without one.
func clientTokenProvider(t *testing.T) string {
	t.Helper()
	token := acctest.Get(t).ClientToken
	if token == "" {
		t.Skipf("needs a token with licenses:activate only; set %s to run it live", acctest.EnvTestClientToken)
	}
	return fmt.Sprintf("provider \"keymint\" {\n  access_token = %q\n}\n", token)
}

// TestAccDeviceActivation_activateOnlyToken: a token that may activate but
// not read creates the activation (not tainted), leaves what only a read
// shows empty, plans empty afterwards, and frees the seat on destroy.
func TestAccDeviceActivation_activateOnlyToken(t *testing.T) {
	acctest.PreCheck(t)
	provider := clientTokenProvider(t)
	l := acctest.NewLicense(t, 2)
	host := acctest.HostID(t, "client")
	addr := "keymint_device_activation.test"
	acctest.Run(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkFreed(t, l, host),
		Steps: []resource.TestStep{{
			Config: provider + activationConfig("test", l, host, "ci"),
			ConfigPlanChecks: resource.ConfigPlanChecks{
				PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
			},
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(addr, tfjsonpath.New("host_id"), knownvalue.StringExact(host)),
				statecheck.ExpectKnownValue(addr, tfjsonpath.New("device_tag"), knownvalue.StringExact("ci")),
				statecheck.ExpectKnownValue(addr, tfjsonpath.New("activation_time"), knownvalue.StringExact("")),
				statecheck.ExpectKnownValue(addr, tfjsonpath.New("ip_address"), knownvalue.StringExact("")),
			},
			Check: checkHosts(t, l, host),
		}},
	})
}

// TestAccLicenseDataSource_missingScope: reading a license with a token that
// may not read fails with an error naming the scope it lacks.
func TestAccLicenseDataSource_missingScope(t *testing.T) {
	acctest.PreCheck(t)
	provider := clientTokenProvider(t)
	l := acctest.NewLicense(t, 1)
	acctest.Run(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      provider + licenseDataConfig(l),
			ExpectError: expectError("Access token lacks a scope", "Cannot read the license of product "+l.ProductID, "lacks the licenses:read scope"),
		}},
	})
}

// TestAccLicenseReset_missingScope: a reset, which counts the devices before
// it frees them, fails with a token that may not read, naming the scope, and
// frees nothing.
func TestAccLicenseReset_missingScope(t *testing.T) {
	acctest.PreCheck(t)
	provider := clientTokenProvider(t)
	l := acctest.NewLicense(t, 2)
	var kept []string
	acctest.Run(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{{
			PreConfig:   func() { kept = activateHosts(t, l, "kept") },
			Config:      provider + resetConfig(l, ""),
			ExpectError: expectError("Access token lacks a scope", "lacks the licenses:read scope"),
		}, {
			// Nothing was freed: the host still holds its seat.
			Config: licenseDataConfig(l),
			Check:  func(s *terraform.State) error { return checkHosts(t, l, kept...)(s) },
		}},
	})
}
