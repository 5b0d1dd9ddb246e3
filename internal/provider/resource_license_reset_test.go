package provider

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/keymint-dev/terraform-provider-keymint/internal/localserver"
	"github.com/keymint-dev/terraform-provider-keymint/tools/acctest"
)

// resetConfig declares a keymint_license_reset named "test", with a
// triggers map when generation is not empty.
func resetConfig(l acctest.License, generation string) string {
	triggers := ""
	if generation != "" {
		triggers = fmt.Sprintf("\n  triggers = {\n    fleet_generation = %q\n  }", generation)
	}
	return fmt.Sprintf(`
resource "keymint_license_reset" "test" {
  product_id  = %q
  license_key = %q%s
}
`, l.ProductID, l.Key, triggers)
}

// activateHosts takes seats for hosts behind Terraform's back; it returns
// their host IDs.
func activateHosts(t *testing.T, l acctest.License, names ...string) []string {
	hosts := make([]string, len(names))
	for i, n := range names {
		hosts[i] = acctest.HostID(t, n)
		acctest.Activate(t, l, hosts[i], "")
	}
	return hosts
}

// checkNoKeyInID fails when the state's ID of addr contains the license key.
func checkNoKeyInID(addr string, l acctest.License) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		rs, ok := s.RootModule().Resources[addr]
		if !ok {
			return fmt.Errorf("%s is not in state", addr)
		}
		if strings.Contains(rs.Primary.ID, l.Key) {
			return fmt.Errorf("the ID of %s contains the license key", addr)
		}
		return nil
	}
}

var rfc3339 = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$`)

// TestAccLicenseReset_basic: a reset frees devices activated out of band and
// counts them; devices activated after it are no drift; a new trigger value
// runs it again; destroying it frees nothing.
func TestAccLicenseReset_basic(t *testing.T) {
	acctest.PreCheck(t)
	acctest.RequireResettable(t)
	l := acctest.NewLicense(t, 5)
	addr := "keymint_license_reset.test"
	var later string // a host activated after the last reset

	acctest.RunExclusive(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		// Destroying the reset only forgets it: the host activated after it keeps its seat.
		CheckDestroy: func(s *terraform.State) error { return checkHosts(t, l, later)(s) },
		Steps: []resource.TestStep{
			{
				PreConfig: func() { activateHosts(t, l, "a", "b", "c") },
				Config:    resetConfig(l, "1"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("devices_removed"), knownvalue.Int64Exact(3)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("reset_at"), knownvalue.StringRegexp(rfc3339)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("triggers"), knownvalue.MapExact(map[string]knownvalue.Check{
						"fleet_generation": knownvalue.StringExact("1"),
					})),
				},
				Check: resource.ComposeTestCheckFunc(checkHosts(t, l), checkNoKeyInID(addr, l)),
			},
			{
				// Devices activated after the reset are not drift.
				PreConfig: func() { activateHosts(t, l, "d", "e") },
				Config:    resetConfig(l, "1"),
				PlanOnly:  true,
			},
			{
				// A new trigger value runs the reset again.
				Config: resetConfig(l, "2"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionReplace)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("devices_removed"), knownvalue.Int64Exact(2)),
				},
				Check: checkHosts(t, l),
			},
			{
				PreConfig: func() { later = activateHosts(t, l, "f")[0] },
				Config:    resetConfig(l, "2"),
				PlanOnly:  true,
			},
		},
	})
}

// TestAccLicenseReset_emptyLicense: resetting a license with nothing active
// ("License not activated") succeeds with zero devices removed, and so does
// removing the trigger map, which runs it again.
func TestAccLicenseReset_emptyLicense(t *testing.T) {
	acctest.PreCheck(t)
	acctest.RequireResettable(t)
	l := acctest.NewLicense(t, 2)
	addr := "keymint_license_reset.test"
	acctest.RunExclusive(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		PreCheck: func() {
			if hosts, err := acctest.Hosts(t, l); err == nil && len(hosts) > 0 {
				// Live: start from an empty license.
				for _, h := range hosts {
					acctest.Deactivate(t, l, h)
				}
			}
		},
		Steps: []resource.TestStep{
			{
				Config: resetConfig(l, "x"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("devices_removed"), knownvalue.Int64Exact(0)),
				},
				Check: checkHosts(t, l),
			},
			{
				Config: resetConfig(l, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionReplace)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("devices_removed"), knownvalue.Int64Exact(0)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("triggers"), knownvalue.Null()),
				},
			},
		},
	})
}

// TestAccLicenseReset_blockedKey: a blocked (for example stolen) key can
// still be reset, which is when freeing its seats matters most.
func TestAccLicenseReset_blockedKey(t *testing.T) {
	acctest.PreCheck(t)
	seats := 3
	l := acctest.NewLocalLicense(t, func(s *localserver.LicenseSeed) { s.MaxActivations = &seats })
	activateHosts(t, l, "stolen-1", "stolen-2")
	if err := acctest.Get(t).Local.SetBlocked(l.ProductID, l.Key, true); err != nil {
		t.Fatal(err)
	}
	acctest.Run(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: resetConfig(l, ""),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("keymint_license_reset.test", tfjsonpath.New("devices_removed"), knownvalue.Int64Exact(2)),
			},
			Check: checkHosts(t, l),
		}},
	})
}

// TestAccLicenseReset_unknownKey: an unknown key fails with a not-found error
// that names the product, and nothing is recorded in state.
func TestAccLicenseReset_unknownKey(t *testing.T) {
	acctest.PreCheck(t)
	known := acctest.NewLicense(t, 1)
	l := acctest.License{ProductID: known.ProductID, Key: "lk_unknown_" + strings.Repeat("0", 20)}
	acctest.Run(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: resetConfig(l, ""),
			ExpectError: expectError("License not found", "Cannot reset the license of product "+l.ProductID, "Invalid license key",
				"KeyMint knows no such license key for this product"),
		}},
	})
}

// TestAccLicenseReset_badInputs: arguments outside the API's limits are
// refused at plan time, before any API call.
func TestAccLicenseReset_badInputs(t *testing.T) {
	acctest.PreCheck(t)
	good := acctest.License{ProductID: "prod_" + strings.Repeat("p", 20), Key: "lk_" + strings.Repeat("k", 24)}
	tests := []struct {
		name string
		l    acctest.License
		want string
	}{
		{"short product", acctest.License{ProductID: "prod_1", Key: good.Key}, `Attribute product_id UTF-8 character count must be between 22 and 256, got: 6`},
		{"empty key", acctest.License{ProductID: good.ProductID, Key: ""}, `Attribute license_key is not a usable license key: it must be 1 to 256 characters long, got: 0`},
		{"long key", acctest.License{ProductID: good.ProductID, Key: strings.Repeat("k", 257)}, `Attribute license_key is not a usable license key: it must be 1 to 256 characters long, got: 257`},
		{"key with whitespace around it", acctest.License{ProductID: good.ProductID, Key: " " + good.Key}, `Attribute license_key is not a usable license key: it starts or ends with whitespace`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			baseURL := acctest.IsolatedServer(t)
			resource.ParallelTest(t, resource.TestCase{
				ProtoV6ProviderFactories: protoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config:      fmt.Sprintf("provider \"keymint\" {\n  base_url = %q\n}\n", baseURL) + resetConfig(tt.l, ""),
					PlanOnly:    true,
					ExpectError: expectError(tt.want),
				}},
			})
		})
	}
}
