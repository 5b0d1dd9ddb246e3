package provider

import (
	"fmt"
	"os"
	"regexp"
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

// fleet describes a keymint_license_activations for activationsConfig.
type fleet struct {
	name      string
	lic       acctest.License
	hosts     []string
	tag       string // "" = none
	exclusive *bool  // nil = not set
}

// activationsConfig declares a keymint_license_activations.
func activationsConfig(f fleet) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\nresource \"keymint_license_activations\" %q {\n", f.name)
	fmt.Fprintf(&b, "  product_id  = %q\n  license_key = %q\n  host_ids    = [", f.lic.ProductID, f.lic.Key)
	for i, h := range f.hosts {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", h)
	}
	b.WriteString("]\n")
	if f.tag != "" {
		fmt.Fprintf(&b, "  device_tag  = %q\n", f.tag)
	}
	if f.exclusive != nil {
		fmt.Fprintf(&b, "  exclusive   = %t\n", *f.exclusive)
	}
	b.WriteString("}\n")
	return b.String()
}

// hostsValue is a known value check for a set of host IDs.
func hostsValue(hosts ...string) knownvalue.Check {
	checks := make([]knownvalue.Check, len(hosts))
	for i, h := range hosts {
		checks[i] = knownvalue.StringExact(h)
	}
	return knownvalue.SetExact(checks)
}

// checkTags asserts the device tag the server holds for each host.
func checkTags(t *testing.T, l acctest.License, want map[string]string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		lic, err := acctest.Get(t).Client.GetKey(t.Context(), l.ProductID, l.Key)
		if err != nil {
			return err
		}
		for h, tag := range want {
			d, ok := lic.Device(h)
			if !ok {
				return fmt.Errorf("host %q holds no seat", h)
			}
			if d.DeviceTag != tag {
				return fmt.Errorf("the server holds tag %q for host %q, want %q", d.DeviceTag, h, tag)
			}
		}
		return nil
	}
}

// TestAccLicenseActivations_lifecycle: a fleet is created with its tag; a
// host deactivated behind Terraform's back shows in the plan as one to add
// and is activated again; shrinking frees; destroy frees the fleet's hosts
// only, and a device of the license outside it keeps its seat.
func TestAccLicenseActivations_lifecycle(t *testing.T) {
	acctest.PreCheck(t)
	l := acctest.NewLicense(t, 5)
	a, b, c := acctest.HostID(t, "fleet-a"), acctest.HostID(t, "fleet-b"), acctest.HostID(t, "fleet-c")
	desktop := acctest.HostID(t, "desktop")
	tag := "ci-" + acctest.HostID(t, "tag")
	addr := "keymint_license_activations.ci"
	three := activationsConfig(fleet{name: "ci", lic: l, hosts: []string{a, b, c}, tag: tag})
	two := activationsConfig(fleet{name: "ci", lic: l, hosts: []string{a, c}, tag: tag})
	wantID := FleetID(l.ProductID, l.Key, tag)

	stateChecks := []statecheck.StateCheck{
		statecheck.ExpectKnownValue(addr, tfjsonpath.New("id"), knownvalue.StringExact(wantID)),
		statecheck.ExpectKnownValue(addr, tfjsonpath.New("host_ids"), hostsValue(a, b, c)),
		statecheck.ExpectKnownValue(addr, tfjsonpath.New("exclusive"), knownvalue.Bool(false)),
		statecheck.ExpectKnownValue(addr, tfjsonpath.New("devices").AtMapKey(a).AtMapKey("activation_time"),
			knownvalue.StringRegexp(regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T`))),
		statecheck.ExpectKnownValue(addr, tfjsonpath.New("devices"), knownvalue.MapSizeExact(3)),
	}
	if acctest.Get(t).IsLocal() {
		stateChecks = append(stateChecks,
			statecheck.ExpectKnownValue(addr, tfjsonpath.New("devices").AtMapKey(b).AtMapKey("ip_address"), knownvalue.StringExact("127.0.0.1")))
	}

	acctest.Run(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             resource.ComposeTestCheckFunc(checkHosts(t, l, desktop), checkTags(t, l, map[string]string{desktop: "desktop"})),
		Steps: []resource.TestStep{
			{
				PreConfig: func() { acctest.Activate(t, l, desktop, "desktop") },
				Config:    three,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: stateChecks,
				Check: resource.ComposeTestCheckFunc(
					checkHosts(t, l, a, b, c, desktop),
					checkTags(t, l, map[string]string{a: tag, b: tag, c: tag, desktop: "desktop"}),
					func(s *terraform.State) error {
						if id := s.RootModule().Resources[addr].Primary.ID; strings.Contains(id, l.Key) {
							return fmt.Errorf("the resource ID %q contains the license key", id)
						}
						return nil
					},
				),
			},
			{
				// A host freed behind Terraform's back: the refresh drops it, the
				// plan adds it back as a set diff, and the apply activates it.
				PreConfig: func() { acctest.Deactivate(t, l, b) },
				Config:    three,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("host_ids"), hostsValue(a, b, c)),
						// Only the device that comes back is unknown.
						plancheck.ExpectUnknownValue(addr, tfjsonpath.New("devices").AtMapKey(b)),
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("devices").AtMapKey(a).AtMapKey("ip_address"), knownvalue.NotNull()),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: checkHosts(t, l, a, b, c, desktop),
			},
			{
				// Shrinking frees the host that left, and only it.
				Config: two,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("host_ids"), hostsValue(a, c)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("devices"), knownvalue.MapSizeExact(2)),
				},
				Check: checkHosts(t, l, a, c, desktop),
			},
		},
	})
}

// TestAccLicenseActivations_exclusive: under exclusive, a device that
// carries the fleet's tag but is not in host_ids (a CI runner Terraform never
// destroyed) shows in the plan as one to free and is freed, while a device
// with another tag (a desktop) keeps its seat, through apply and destroy.
func TestAccLicenseActivations_exclusive(t *testing.T) {
	acctest.PreCheck(t)
	l := acctest.NewLicense(t, 5)
	a, b := acctest.HostID(t, "runner-a"), acctest.HostID(t, "runner-b")
	stray, later := acctest.HostID(t, "runner-gone"), acctest.HostID(t, "runner-later")
	desktop := acctest.HostID(t, "desktop")
	tag := "ci-" + acctest.HostID(t, "tag")
	addr := "keymint_license_activations.ci"
	config := activationsConfig(fleet{name: "ci", lic: l, hosts: []string{a, b}, tag: tag, exclusive: ptr(true)})

	acctest.Run(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkHosts(t, l, desktop),
		Steps: []resource.TestStep{
			{
				PreConfig: func() {
					acctest.Activate(t, l, desktop, "desktop")
					acctest.Activate(t, l, stray, tag)
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("host_ids"), hostsValue(a, b)),
				},
				Check: checkHosts(t, l, a, b, desktop),
			},
			{
				// A runner that registered itself after the apply is a stray
				// in scope: the refresh lists it, and the plan frees it.
				PreConfig: func() { acctest.Activate(t, l, later, tag) },
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("host_ids"), hostsValue(a, b)),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: resource.ComposeTestCheckFunc(
					checkHosts(t, l, a, b, desktop),
					checkTags(t, l, map[string]string{desktop: "desktop"}),
				),
			},
		},
	})
}

// TestAccLicenseActivations_doesNotFit: a fleet that needs more seats than
// are free fails at plan time, naming the numbers and the holders, and the
// server is left as it was; a shrink-and-grow that only fits once the
// hosts that leave are freed succeeds, because frees come first.
func TestAccLicenseActivations_doesNotFit(t *testing.T) {
	acctest.PreCheck(t)
	acctest.RequireLocal(t)
	l := acctest.NewLicense(t, 3)
	desktop := acctest.HostID(t, "desktop")
	a, b, c, d := acctest.HostID(t, "a"), acctest.HostID(t, "b"), acctest.HostID(t, "c"), acctest.HostID(t, "d")
	addr := "keymint_license_activations.fleet"

	acctest.Run(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkHosts(t, l, desktop),
		Steps: []resource.TestStep{
			{
				PreConfig:   func() { acctest.Activate(t, l, desktop, "desktop") },
				Config:      activationsConfig(fleet{name: "fleet", lic: l, hosts: []string{a, b, c}, tag: "ci"}),
				PlanOnly:    true,
				ExpectError: expectError(`License seat limit reached`, `host_ids lists 3 hosts that hold no seat`, `the license has 2 free seats: 1 short`, `1 of 3 seats are in use, held by: "`+desktop+`"`),
			},
			{
				// The refused plan took no seat.
				Config:      activationsConfig(fleet{name: "fleet", lic: l, hosts: []string{a, b, c}, tag: "ci"}),
				ExpectError: expectError(`License seat limit reached`),
				Check:       checkHosts(t, l, desktop),
			},
			{
				Config: activationsConfig(fleet{name: "fleet", lic: l, hosts: []string{a, b}, tag: "ci"}),
				Check:  checkHosts(t, l, desktop, a, b),
			},
			{
				// Two leave and two come on a full license.
				Config: activationsConfig(fleet{name: "fleet", lic: l, hosts: []string{c, d}, tag: "ci"}),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)},
				},
				Check: checkHosts(t, l, desktop, c, d),
			},
		},
	})
}

// TestAccLicenseActivations_import adopts the devices in scope: those with
// the tag, or every device with *; exclusive is false until the
// configuration says otherwise; the key may come from the environment.
func TestAccLicenseActivations_import(t *testing.T) {
	acctest.PreCheck(t)
	l := acctest.NewLicense(t, 5)
	a, b := acctest.HostID(t, "imp-a"), acctest.HostID(t, "imp-b")
	desktop := acctest.HostID(t, "desktop")
	tag := "ci-" + acctest.HostID(t, "tag")
	addr := "keymint_license_activations.ci"
	config := activationsConfig(fleet{name: "ci", lic: l, hosts: []string{a, b}, tag: tag})
	keyVar := "KEYMINT_ACCTEST_KEY_" + strings.ToUpper(strings.ReplaceAll(acctest.HostID(t, "k"), "-", "_"))
	t.Cleanup(func() { _ = os.Unsetenv(keyVar) })

	acctest.Run(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkHosts(t, l, desktop),
		Steps: []resource.TestStep{
			{
				PreConfig: func() { acctest.Activate(t, l, desktop, "desktop") },
				Config:    config,
				Check:     checkHosts(t, l, a, b, desktop),
			},
			{
				ResourceName:      addr,
				ImportState:       true,
				ImportStateId:     l.ProductID + "/" + l.Key + "/" + tag,
				ImportStateVerify: true,
			},
			{
				PreConfig: func() {
					//nolint:usetesting // a parallel test cannot use t.Setenv; the name is unique to it
					_ = os.Setenv(keyVar, l.Key)
				},
				ResourceName:    addr,
				ImportState:     true,
				ImportStateKind: resource.ImportBlockWithID,
				ImportStateId:   l.ProductID + "/env:" + keyVar + "/" + tag,
				ImportPlanChecks: resource.ImportPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionNoop),
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("id"), knownvalue.StringExact(FleetID(l.ProductID, l.Key, tag))),
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("host_ids"), hostsValue(a, b)),
					},
				},
			},
			{
				ResourceName:  addr,
				ImportState:   true,
				ImportStateId: l.ProductID + "/" + l.Key,
				ExpectError:   expectError(`expected 3 in the form <product_id>/<license_key>/<device_tag or *>`),
			},
		},
	})
}

// TestAccLicenseActivations_allDevices: without a device tag the scope is
// every device of the license: under exclusive, a device with any tag (or
// none) that is not in host_ids is freed; import with * adopts them all. An
// empty host_ids is a fleet of none.
func TestAccLicenseActivations_allDevices(t *testing.T) {
	acctest.PreCheck(t)
	acctest.RequireLocal(t) // it frees every device of the license
	l := acctest.NewLicense(t, 4)
	a, b := acctest.HostID(t, "a"), acctest.HostID(t, "b")
	tagged, untagged := acctest.HostID(t, "tagged"), acctest.HostID(t, "untagged")
	addr := "keymint_license_activations.all"

	acctest.Run(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkHosts(t, l),
		Steps: []resource.TestStep{
			{
				PreConfig: func() {
					acctest.Activate(t, l, tagged, "desktop")
					acctest.Activate(t, l, untagged, "")
				},
				Config: activationsConfig(fleet{name: "all", lic: l, hosts: []string{a}}),
				Check:  checkHosts(t, l, a, tagged, untagged),
			},
			{
				// Import with * adopts every device, exclusive false.
				ResourceName:  addr,
				ImportState:   true,
				ImportStateId: l.ProductID + "/" + l.Key + "/*",
				ImportStateCheck: func(states []*terraform.InstanceState) error {
					if len(states) != 1 {
						return fmt.Errorf("%d states imported", len(states))
					}
					attrs := states[0].Attributes
					if attrs["host_ids.#"] != "3" || attrs["exclusive"] != "false" || attrs["device_tag"] != "" {
						return fmt.Errorf("imported host_ids.# = %s, exclusive = %s, device_tag = %q; want 3 hosts, false, none",
							attrs["host_ids.#"], attrs["exclusive"], attrs["device_tag"])
					}
					return nil
				},
			},
			{
				Config: activationsConfig(fleet{name: "all", lic: l, hosts: []string{a, b}, exclusive: ptr(true)}),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: checkHosts(t, l, a, b),
			},
			{
				// A fleet of none frees every seat it held.
				Config: activationsConfig(fleet{name: "all", lic: l, hosts: nil, exclusive: ptr(true)}),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("host_ids"), knownvalue.SetExact(nil)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("devices"), knownvalue.MapExact(map[string]knownvalue.Check{})),
				},
				Check: checkHosts(t, l),
			},
		},
	})
}

// TestAccLicenseActivations_retag: a host of host_ids that holds a seat under
// another tag is activated again with the fleet's tag, on a license with no
// spare seat.
func TestAccLicenseActivations_retag(t *testing.T) {
	acctest.PreCheck(t)
	l := acctest.NewLicense(t, 1)
	host := acctest.HostID(t, "retag")
	tag := "ci-" + acctest.HostID(t, "tag")
	acctest.Run(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkFreed(t, l, host),
		Steps: []resource.TestStep{{
			PreConfig: func() { acctest.Activate(t, l, host, "old-tag") },
			Config:    activationsConfig(fleet{name: "ci", lic: l, hosts: []string{host}, tag: tag}),
			ConfigPlanChecks: resource.ConfigPlanChecks{
				PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
			},
			Check: resource.ComposeTestCheckFunc(checkHosts(t, l, host), checkTags(t, l, map[string]string{host: tag})),
		}},
	})
}

// TestAccLicenseActivations_activateOnlyToken: a token that may activate but
// not read still creates, shrinks and destroys a fleet (what only a read
// shows stays empty); exclusive, which needs the read, fails at plan time
// before any call that changes something.
func TestAccLicenseActivations_activateOnlyToken(t *testing.T) {
	acctest.PreCheck(t)
	provider := clientTokenProvider(t)
	l := acctest.NewLicense(t, 3)
	a, b := acctest.HostID(t, "client-a"), acctest.HostID(t, "client-b")
	tag := "ci-" + acctest.HostID(t, "tag")
	addr := "keymint_license_activations.ci"
	acctest.Run(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkFreed(t, l, a, b),
		Steps: []resource.TestStep{
			{
				Config: provider + activationsConfig(fleet{name: "ci", lic: l, hosts: []string{a, b}, tag: tag}),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("host_ids"), hostsValue(a, b)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("devices").AtMapKey(a).AtMapKey("activation_time"), knownvalue.StringExact("")),
				},
				Check: checkHosts(t, l, a, b),
			},
			{
				Config: provider + activationsConfig(fleet{name: "ci", lic: l, hosts: []string{a}, tag: tag}),
				Check:  checkHosts(t, l, a),
			},
			{
				Config:      provider + activationsConfig(fleet{name: "ci", lic: l, hosts: []string{a}, tag: tag, exclusive: ptr(true)}),
				PlanOnly:    true,
				ExpectError: expectError(`exclusive needs a token that can read licenses`, `lacks the licenses:read scope`),
			},
		},
	})
}

// TestAccLicenseActivations_badInputs: every limit is checked before any API
// call, and the errors name the attribute.
func TestAccLicenseActivations_badInputs(t *testing.T) {
	acctest.PreCheck(t)
	good := acctest.License{ProductID: "prod_" + strings.Repeat("p", 20), Key: "lk_" + strings.Repeat("k", 24)}
	tests := []struct {
		name   string
		f      fleet
		errRgx string
	}{
		{"host ID too long", fleet{lic: good, hosts: []string{"ok", strings.Repeat("h", 65)}}, `host_ids[Value("` + strings.Repeat("h", 65) + `")] UTF-8 character count must be between 1 and 64, got: 65`},
		{"host ID empty", fleet{lic: good, hosts: []string{""}}, `host_ids[Value("")] UTF-8 character count must be between 1 and 64, got: 0`},
		{"device_tag too long", fleet{lic: good, hosts: []string{"h"}, tag: strings.Repeat("t", 65)}, `device_tag UTF-8 character count must be between 1 and 64`},
		{"license_key with a space", fleet{lic: acctest.License{ProductID: good.ProductID, Key: good.Key + " "}, hosts: []string{"h"}}, `Attribute license_key is not a usable license key: it starts or ends with whitespace`},
		{"product_id too short", fleet{lic: acctest.License{ProductID: "prod_short", Key: good.Key}, hosts: []string{"h"}}, `product_id UTF-8 character count must be between 22 and 256`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			baseURL := acctest.IsolatedServer(t)
			tt.f.name = "bad"
			resource.ParallelTest(t, resource.TestCase{
				ProtoV6ProviderFactories: protoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config:      isolatedProvider(baseURL) + activationsConfig(tt.f),
					PlanOnly:    true,
					ExpectError: expectError(tt.errRgx),
				}},
			})
		})
	}
	importCases := map[string]struct{ id, want string }{
		"too few parts":     {good.ProductID + "/" + good.Key, `expected 3 in the form <product_id>/<license_key>/<device_tag or *>`},
		"empty tag":         {good.ProductID + "/" + good.Key + "/", `the device_tag part of the import ID is empty`},
		"tag too long":      {good.ProductID + "/" + good.Key + "/" + strings.Repeat("t", 65), `must be 1 to 64 characters, or * for every device`},
		"unset key env var": {good.ProductID + "/env:KEYMINT_ACCTEST_NEVER_SET/ci", `environment variable KEYMINT_ACCTEST_NEVER_SET, which is not set`},
	}
	for name, tt := range importCases {
		t.Run("import "+name, func(t *testing.T) {
			baseURL := acctest.IsolatedServer(t)
			resource.ParallelTest(t, resource.TestCase{
				ProtoV6ProviderFactories: protoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config:        isolatedProvider(baseURL) + activationsConfig(fleet{name: "imp", lic: good, hosts: []string{"h"}}),
					ResourceName:  "keymint_license_activations.imp",
					ImportState:   true,
					ImportStateId: tt.id,
					ExpectError:   expectError(`Invalid import ID`, tt.want),
				}},
			})
		})
	}
}

// ptr returns a pointer to v.
func ptr[T any](v T) *T { return &v }
