package provider

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/keymint-dev/terraform-provider-keymint/tools/acctest"
)

// activationConfig declares one keymint_device_activation named name.
func activationConfig(name string, l acctest.License, hostID, tag string) string {
	tagLine := ""
	if tag != "" {
		tagLine = fmt.Sprintf("\n  device_tag  = %q", tag)
	}
	return fmt.Sprintf(`
resource "keymint_device_activation" %q {
  product_id  = %q
  license_key = %q
  host_id     = %q%s
}
`, name, l.ProductID, l.Key, hostID, tagLine)
}

// checkHosts asserts that the server lists exactly these hosts (in any order)
// among the license's devices, ignoring hosts in ignore.
func checkHosts(t *testing.T, l acctest.License, want ...string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		got, err := acctest.Hosts(t, l)
		if err != nil {
			return fmt.Errorf("reading the license from the server: %w", err)
		}
		slices.Sort(got)
		w := slices.Clone(want)
		slices.Sort(w)
		if !slices.Equal(got, w) {
			return fmt.Errorf("the server holds seats for %q, want %q", got, w)
		}
		return nil
	}
}

// checkFreed is a CheckDestroy: it asks the server whether the given hosts
// really gave their seats back.
func checkFreed(t *testing.T, l acctest.License, hosts ...string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		got, err := acctest.Hosts(t, l)
		if err != nil {
			return fmt.Errorf("reading the license from the server: %w", err)
		}
		for _, h := range hosts {
			if slices.Contains(got, h) {
				return fmt.Errorf("host %q still holds a seat after destroy", h)
			}
		}
		return nil
	}
}

func TestAccDeviceActivation_basic(t *testing.T) {
	acctest.PreCheck(t)
	l := acctest.NewLicense(t, 3)
	host := acctest.HostID(t, "basic")
	addr := "keymint_device_activation.test"
	config := activationConfig("test", l, host, "ci-runner")
	importID := l.ProductID + "/" + l.Key + "/" + host
	wantID := activationID(l.ProductID, l.Key, host)
	keyVar := "KEYMINT_ACCTEST_KEY_" + strings.ToUpper(strings.ReplaceAll(acctest.HostID(t, "k"), "-", "_"))
	t.Cleanup(func() { _ = os.Unsetenv(keyVar) })

	stateChecks := []statecheck.StateCheck{
		statecheck.ExpectKnownValue(addr, tfjsonpath.New("id"), knownvalue.StringExact(wantID)),
		statecheck.ExpectKnownValue(addr, tfjsonpath.New("host_id"), knownvalue.StringExact(host)),
		statecheck.ExpectKnownValue(addr, tfjsonpath.New("device_tag"), knownvalue.StringExact("ci-runner")),
		statecheck.ExpectKnownValue(addr, tfjsonpath.New("activation_time"), knownvalue.StringRegexp(regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T`))),
		statecheck.ExpectKnownValue(addr, tfjsonpath.New("ip_address"), knownvalue.NotNull()),
		statecheck.ExpectKnownValue(addr, tfjsonpath.New("licensee_name"), knownvalue.NotNull()),
		statecheck.ExpectKnownValue(addr, tfjsonpath.New("licensee_email"), knownvalue.NotNull()),
	}
	if acctest.Get(t).IsLocal() {
		stateChecks = append(stateChecks,
			statecheck.ExpectKnownValue(addr, tfjsonpath.New("ip_address"), knownvalue.StringExact("127.0.0.1")),
			statecheck.ExpectKnownValue(addr, tfjsonpath.New("licensee_name"), knownvalue.StringExact(acctest.CustomerName)),
			statecheck.ExpectKnownValue(addr, tfjsonpath.New("licensee_email"), knownvalue.StringExact(acctest.CustomerEmail)),
		)
	}

	acctest.Run(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkFreed(t, l, host),
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: stateChecks,
				Check: resource.ComposeTestCheckFunc(
					checkHosts(t, l, host),
					func(s *terraform.State) error {
						id := s.RootModule().Resources[addr].Primary.ID
						if strings.Contains(id, l.Key) {
							return fmt.Errorf("the resource ID %q contains the license key", id)
						}
						return nil
					},
				),
			},
			{
				// Re-planning the same configuration changes nothing.
				Config:   config,
				PlanOnly: true,
			},
			{
				ResourceName:      addr,
				ImportState:       true,
				ImportStateId:     importID,
				ImportStateVerify: true,
			},
			{
				ResourceName:    addr,
				ImportState:     true,
				ImportStateKind: resource.ImportBlockWithID,
				ImportStateId:   importID,
				ImportPlanChecks: resource.ImportPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionNoop),
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("id"), knownvalue.StringExact(wantID)),
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("device_tag"), knownvalue.StringExact("ci-runner")),
					},
				},
			},
			{
				// The key can come from the environment, keeping it out of the
				// import ID that Terraform prints.
				PreConfig: func() {
					//nolint:usetesting // a parallel test cannot use t.Setenv; the name is unique to it
					_ = os.Setenv(keyVar, l.Key)
				},
				ResourceName:      addr,
				ImportState:       true,
				ImportStateId:     l.ProductID + "/env:" + keyVar + "/" + host,
				ImportStateVerify: true,
			},
			{
				ResourceName:  addr,
				ImportState:   true,
				ImportStateId: l.ProductID + "/" + host,
				ExpectError:   expectError(`expected 3 in the form <product_id>/<license_key>/<host_id>`),
			},
			{
				ResourceName:  addr,
				ImportState:   true,
				ImportStateId: l.ProductID + "//" + host,
				ExpectError:   expectError(`the license_key part of the import ID is empty`),
			},
			{
				ResourceName:  addr,
				ImportState:   true,
				ImportStateId: l.ProductID + "/" + l.Key + "/" + acctest.HostID(t, "never-activated"),
				ExpectError:   expectError(`Cannot import non-existent remote object`),
			},
		},
	})
}

// TestAccDeviceActivation_drift: a seat freed behind Terraform's back is seen
// on refresh, and the next apply takes it again.
func TestAccDeviceActivation_drift(t *testing.T) {
	acctest.PreCheck(t)
	l := acctest.NewLicense(t, 2)
	host := acctest.HostID(t, "drift")
	addr := "keymint_device_activation.test"
	config := activationConfig("test", l, host, "")

	acctest.Run(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkFreed(t, l, host),
		Steps: []resource.TestStep{
			{
				Config: config,
				Check:  checkHosts(t, l, host),
			},
			{
				PreConfig: func() { acctest.Deactivate(t, l, host) },
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate)},
				},
				Check: checkHosts(t, l, host),
			},
		},
	})
}

// TestAccDeviceActivation_replaceOnTagChange: a new device_tag replaces the
// activation, destroying first, so it works even on a one-seat license.
func TestAccDeviceActivation_replaceOnTagChange(t *testing.T) {
	acctest.PreCheck(t)
	l := acctest.NewLicense(t, 1)
	host := acctest.HostID(t, "retag")
	addr := "keymint_device_activation.test"

	acctest.Run(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkFreed(t, l, host),
		Steps: []resource.TestStep{
			{
				Config: activationConfig("test", l, host, "blue"),
				Check:  checkHosts(t, l, host),
			},
			{
				Config: activationConfig("test", l, host, "green"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionDestroyBeforeCreate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("device_tag"), knownvalue.StringExact("green")),
				},
				Check: resource.ComposeTestCheckFunc(checkHosts(t, l, host), checkTag(t, l, host, "green")),
			},
			{
				// Removing the tag replaces it again; the server then holds no tag.
				Config: activationConfig("test", l, host, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionDestroyBeforeCreate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("device_tag"), knownvalue.Null()),
				},
				Check: checkTag(t, l, host, ""),
			},
		},
	})
}

// TestAccDeviceActivation_adoptsAndRetags: a host activated out of band under
// another tag is adopted, and the server ends up with the configured tag.
func TestAccDeviceActivation_adoptsAndRetags(t *testing.T) {
	acctest.PreCheck(t)
	l := acctest.NewLicense(t, 1)
	host := acctest.HostID(t, "adopt")
	acctest.Run(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkFreed(t, l, host),
		Steps: []resource.TestStep{
			{
				PreConfig: func() { acctest.Activate(t, l, host, "old-tag") },
				Config:    activationConfig("test", l, host, "new-tag"),
				Check:     resource.ComposeTestCheckFunc(checkHosts(t, l, host), checkTag(t, l, host, "new-tag")),
			},
		},
	})
}

func checkTag(t *testing.T, l acctest.License, host, want string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		ctx := t.Context()
		lic, err := acctest.Get(t).Client.GetKey(ctx, l.ProductID, l.Key)
		if err != nil {
			return err
		}
		d, ok := lic.Device(host)
		if !ok {
			return fmt.Errorf("host %q holds no seat", host)
		}
		if d.DeviceTag != want {
			return fmt.Errorf("the server holds tag %q for host %q, want %q", d.DeviceTag, host, want)
		}
		return nil
	}
}

// TestAccDeviceActivation_seatLimit: on a full license the error says how many
// seats are used and by whom; the activations that fit are kept and freed.
func TestAccDeviceActivation_seatLimit(t *testing.T) {
	acctest.PreCheck(t)
	acctest.RequireLocal(t)
	l := acctest.NewLicense(t, 2)
	hosts := []string{acctest.HostID(t, "seat-a"), acctest.HostID(t, "seat-b"), acctest.HostID(t, "seat-c")}
	var config strings.Builder
	for i, h := range hosts {
		config.WriteString(activationConfig(fmt.Sprintf("h%d", i), l, h, ""))
	}
	acctest.Run(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkFreed(t, l, hosts...),
		Steps: []resource.TestStep{
			{
				Config:      config.String(),
				ExpectError: expectError(`License seat limit reached`, `2 of 2 seats are in use, held by:`, `To free a seat`),
			},
			{
				// The two that fit are in state and on the server; the third still cannot fit.
				Config:      config.String(),
				ExpectError: expectError(`License seat limit reached`),
				Check: func(*terraform.State) error {
					got, err := acctest.Hosts(t, l)
					if err != nil {
						return err
					}
					if len(got) != 2 {
						return fmt.Errorf("the server holds %d seats, want 2", len(got))
					}
					return nil
				},
			},
		},
	})
}

// TestAccDeviceActivation_destroyAlreadyFree: deleting a seat that is already
// free succeeds, whether the server answers "Device not found" (other devices
// remain) or "License not activated" (none remain). Two resources declaring
// the same host make the second deletion find the seat already freed.
func TestAccDeviceActivation_destroyAlreadyFree(t *testing.T) {
	acctest.PreCheck(t)
	acctest.RequireLocal(t)
	withOthers := acctest.NewLicense(t, 3)
	alone := acctest.NewLicense(t, 3)
	other := acctest.HostID(t, "other")
	hostA, hostB := acctest.HostID(t, "dup-a"), acctest.HostID(t, "dup-b")
	config := activationConfig("a1", withOthers, hostA, "") + activationConfig("a2", withOthers, hostA, "") +
		activationConfig("b1", alone, hostB, "") + activationConfig("b2", alone, hostB, "")

	acctest.Run(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy: resource.ComposeTestCheckFunc(
			checkHosts(t, withOthers, other),
			checkHosts(t, alone),
		),
		Steps: []resource.TestStep{
			{
				PreConfig: func() { acctest.Activate(t, withOthers, other, "") },
				Config:    config,
				Check:     resource.ComposeTestCheckFunc(checkHosts(t, withOthers, other, hostA), checkHosts(t, alone, hostB)),
			},
		},
	})
}

// TestAccDeviceActivation_badInputs: every limit is checked at plan time, the
// error names the attribute and what it allows, and no API call is made.
func TestAccDeviceActivation_badInputs(t *testing.T) {
	acctest.PreCheck(t)
	good := acctest.License{ProductID: "prod_" + strings.Repeat("p", 20), Key: "lk_" + strings.Repeat("k", 24)}
	long := strings.Repeat("x", 65)
	tests := []struct {
		name   string
		lic    acctest.License
		host   string
		tag    string
		errRgx string
	}{
		{"product_id too short", acctest.License{ProductID: "prod_short", Key: good.Key}, "h", "", `product_id UTF-8 character count must be between 22 and 256`},
		{"product_id too long", acctest.License{ProductID: strings.Repeat("p", 257), Key: good.Key}, "h", "", `product_id UTF-8 character count must be between 22 and 256`},
		{"product_id empty", acctest.License{ProductID: "", Key: good.Key}, "h", "", `product_id UTF-8 character count must be between 22 and 256`},
		{"license_key too long", acctest.License{ProductID: good.ProductID, Key: strings.Repeat("k", 257)}, "h", "", `Attribute license_key is not a usable license key: it must be 1 to 256 characters long, got: 257`},
		{"license_key empty", acctest.License{ProductID: good.ProductID, Key: ""}, "h", "", `Attribute license_key is not a usable license key: it must be 1 to 256 characters long, got: 0`},
		{"license_key with a space after it", acctest.License{ProductID: good.ProductID, Key: good.Key + " "}, "h", "", `Attribute license_key is not a usable license key: it starts or ends with whitespace`},
		{"license_key with a control character", acctest.License{ProductID: good.ProductID, Key: "lk_\tkey"}, "h", "", `Attribute license_key is not a usable license key: character 4 is a control character (U+0009)`},
		{"host_id empty", good, "", "", `host_id UTF-8 character count must be between 1 and 64`},
		{"host_id too long", good, long, "", `host_id UTF-8 character count must be between 1 and 64`},
		{"host_id too long in characters", good, strings.Repeat("é", 65), "", `host_id UTF-8 character count must be between 1 and 64`},
		{"device_tag too long", good, "h", long, `device_tag UTF-8 character count must be between 1 and 64`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			baseURL := acctest.IsolatedServer(t)
			resource.ParallelTest(t, resource.TestCase{
				ProtoV6ProviderFactories: protoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config:      isolatedProvider(baseURL) + activationConfig("bad", tt.lic, tt.host, tt.tag),
					PlanOnly:    true,
					ExpectError: expectError(tt.errRgx),
				}},
			})
		})
	}
	t.Run("device_tag empty", func(t *testing.T) {
		baseURL := acctest.IsolatedServer(t)
		config := strings.Replace(activationConfig("bad", good, "h", "x"), `"x"`, `""`, 1)
		resource.ParallelTest(t, resource.TestCase{
			ProtoV6ProviderFactories: protoV6ProviderFactories,
			Steps: []resource.TestStep{{
				Config:      isolatedProvider(baseURL) + config,
				PlanOnly:    true,
				ExpectError: expectError(`device_tag UTF-8 character count must be between 1 and 64`),
			}},
		})
	})
	// Malformed import IDs are refused before any call too.
	importCases := map[string]struct{ id, want string }{
		"too few parts":     {good.ProductID + "/only-two", `expected 3 in the form <product_id>/<license_key>/<host_id>`},
		"empty product":     {"/" + good.Key + "/h", `the product_id part of the import ID is empty`},
		"empty key":         {good.ProductID + "//h", `the license_key part of the import ID is empty`},
		"empty host":        {good.ProductID + "/" + good.Key + "/", `the host_id part of the import ID is empty`},
		"unset key env var": {good.ProductID + "/env:KEYMINT_ACCTEST_NEVER_SET/h", `environment variable KEYMINT_ACCTEST_NEVER_SET, which is not set`},
	}
	for name, tt := range importCases {
		t.Run("import "+name, func(t *testing.T) {
			baseURL := acctest.IsolatedServer(t)
			resource.ParallelTest(t, resource.TestCase{
				ProtoV6ProviderFactories: protoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config:        isolatedProvider(baseURL) + activationConfig("imp", good, "h", ""),
					ResourceName:  "keymint_device_activation.imp",
					ImportState:   true,
					ImportStateId: tt.id,
					ExpectError:   expectError(`Invalid import ID`, tt.want),
				}},
			})
		})
	}
}

// isolatedProvider points the provider at a server of the test's own.
func isolatedProvider(baseURL string) string {
	return fmt.Sprintf("provider \"keymint\" {\n  base_url = %q\n}\n", baseURL)
}

// TestAccDeviceActivation_licenseDeleted: a license key deleted in KeyMint
// holds no seats; refresh drops its activations from state instead of
// failing, and the plan shows them to be created again.
func TestAccDeviceActivation_licenseDeleted(t *testing.T) {
	acctest.PreCheck(t)
	srv := acctest.RequireLocal(t)
	l := acctest.NewLicense(t, 2)
	host := acctest.HostID(t, "deleted")
	addr := "keymint_device_activation.test"
	config := activationConfig("test", l, host, "")
	acctest.Run(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				Check:  checkHosts(t, l, host),
			},
			{
				PreConfig: func() {
					if err := srv.RemoveLicense(l.ProductID, l.Key); err != nil {
						t.Fatal(err)
					}
				},
				Config:             config,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate)},
				},
			},
		},
	})
}
