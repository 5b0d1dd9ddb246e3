package provider

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/keymint-dev/terraform-provider-keymint/internal/localserver"
	"github.com/keymint-dev/terraform-provider-keymint/tools/acctest"
)

// licenseDataConfig declares data "keymint_license" "test".
func licenseDataConfig(l acctest.License) string {
	return fmt.Sprintf(`
data "keymint_license" "test" {
  product_id  = %q
  license_key = %q
}
`, l.ProductID, l.Key)
}

const licenseData = "data.keymint_license.test"

// expectLicense checks attributes of data.keymint_license.test.
func expectLicense(checks map[string]knownvalue.Check) []statecheck.StateCheck {
	var out []statecheck.StateCheck
	for attr, c := range checks {
		out = append(out, statecheck.ExpectKnownValue(licenseData, tfjsonpath.New(attr), c))
	}
	return out
}

// TestAccLicenseDataSource_basic: the seats and devices the server holds,
// devices activated out of band included, and the customer.
func TestAccLicenseDataSource_basic(t *testing.T) {
	acctest.PreCheck(t)
	acctest.RequireLocal(t)
	l := acctest.NewLicense(t, 5)
	tagged, plain := acctest.HostID(t, "tagged"), acctest.HostID(t, "plain")
	acctest.Activate(t, l, tagged, "gpu-pool")
	acctest.Activate(t, l, plain, "")

	acctest.Run(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: licenseDataConfig(l),
				ConfigStateChecks: expectLicense(map[string]knownvalue.Check{
					"id":              knownvalue.StringExact(l.ProductID + "/" + keyFingerprint(l.ProductID, l.Key)),
					"max_activations": knownvalue.Int64Exact(5),
					"activations":     knownvalue.Int64Exact(2),
					"seats_available": knownvalue.Int64Exact(3),
					"activated":       knownvalue.Bool(true),
					"expiration_date": knownvalue.Null(),
					"devices": knownvalue.ListExact([]knownvalue.Check{
						knownvalue.ObjectExact(map[string]knownvalue.Check{
							"host_id":         knownvalue.StringExact(tagged),
							"device_tag":      knownvalue.StringExact("gpu-pool"),
							"ip_address":      knownvalue.StringExact("127.0.0.1"),
							"activation_time": knownvalue.StringRegexp(regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T`)),
						}),
						knownvalue.ObjectExact(map[string]knownvalue.Check{
							"host_id":         knownvalue.StringExact(plain),
							"device_tag":      knownvalue.Null(),
							"ip_address":      knownvalue.StringExact("127.0.0.1"),
							"activation_time": knownvalue.NotNull(),
						}),
					}),
					"customer": knownvalue.ObjectExact(map[string]knownvalue.Check{
						"id":     knownvalue.StringExact("cus_acctest"),
						"name":   knownvalue.StringExact(acctest.CustomerName),
						"email":  knownvalue.StringExact(acctest.CustomerEmail),
						"active": knownvalue.Bool(true),
					}),
				}),
				Check: func(s *terraform.State) error {
					if id := s.RootModule().Resources[licenseData].Primary.ID; strings.Contains(id, l.Key) {
						return fmt.Errorf("the data source's ID contains the license key")
					}
					return nil
				},
			},
			{
				// A device freed elsewhere shows at the next read.
				PreConfig: func() { acctest.Deactivate(t, l, tagged) },
				Config:    licenseDataConfig(l),
				ConfigStateChecks: expectLicense(map[string]knownvalue.Check{
					"activations":     knownvalue.Int64Exact(1),
					"seats_available": knownvalue.Int64Exact(4),
				}),
			},
		},
	})
}

// TestAccLicenseDataSource_shapes: unlimited, blocked, expiring and
// over-full licenses, and one without customer.
func TestAccLicenseDataSource_shapes(t *testing.T) {
	acctest.PreCheck(t)
	one := 1
	expires := time.Date(2027, 3, 31, 23, 59, 59, 0, time.UTC)
	tests := []struct {
		name   string
		shape  func(*localserver.LicenseSeed)
		hosts  int
		checks map[string]knownvalue.Check
	}{
		{
			name:  "unlimited without customer",
			shape: func(*localserver.LicenseSeed) {},
			hosts: 2,
			checks: map[string]knownvalue.Check{
				"max_activations": knownvalue.Null(),
				"seats_available": knownvalue.Null(),
				"activations":     knownvalue.Int64Exact(2),
				"customer":        knownvalue.Null(),
				"activated":       knownvalue.Bool(true),
			},
		},
		{
			name:  "blocked",
			shape: func(s *localserver.LicenseSeed) { s.MaxActivations = &one; s.Blocked = true },
			checks: map[string]knownvalue.Check{
				"activated":       knownvalue.Bool(false),
				"activations":     knownvalue.Int64Exact(0),
				"seats_available": knownvalue.Int64Exact(1),
				"devices":         knownvalue.ListSizeExact(0),
			},
		},
		{
			name: "expiring, inactive customer",
			shape: func(s *localserver.LicenseSeed) {
				s.ExpirationDate = &expires
				s.Customer = &localserver.Customer{ID: "cus_gone", Name: "Gone Ltd", Email: "ops@gone.test", Active: false}
			},
			checks: map[string]knownvalue.Check{
				"expiration_date": knownvalue.StringRegexp(regexp.MustCompile(`^2027-03-31T23:59:59`)),
				"customer": knownvalue.ObjectExact(map[string]knownvalue.Check{
					"id":     knownvalue.StringExact("cus_gone"),
					"name":   knownvalue.StringExact("Gone Ltd"),
					"email":  knownvalue.StringExact("ops@gone.test"),
					"active": knownvalue.Bool(false),
				}),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := acctest.NewLocalLicense(t, tt.shape)
			for i := range tt.hosts {
				acctest.Activate(t, l, acctest.HostID(t, fmt.Sprint("h", i)), "")
			}
			acctest.Run(t, resource.TestCase{
				ProtoV6ProviderFactories: protoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config:            licenseDataConfig(l),
					ConfigStateChecks: expectLicense(tt.checks),
				}},
			})
		})
	}

	t.Run("more devices than seats", func(t *testing.T) {
		// A limit lowered below the devices holding seats: none available, never a negative number.
		srv := acctest.RequireLocal(t)
		l := acctest.NewLicense(t, 3)
		activateHosts(t, l, "x", "y", "z")
		if err := srv.SetMaxActivations(l.ProductID, l.Key, &one); err != nil {
			t.Fatal(err)
		}
		acctest.Run(t, resource.TestCase{
			ProtoV6ProviderFactories: protoV6ProviderFactories,
			Steps: []resource.TestStep{{
				Config: licenseDataConfig(l),
				ConfigStateChecks: expectLicense(map[string]knownvalue.Check{
					"max_activations": knownvalue.Int64Exact(1),
					"activations":     knownvalue.Int64Exact(3),
					"seats_available": knownvalue.Int64Exact(0),
				}),
			}},
		})
	})
}

// TestAccLicenseDataSource_unknownKey: an unknown key fails the plan with a
// not-found error that names the product.
func TestAccLicenseDataSource_unknownKey(t *testing.T) {
	acctest.PreCheck(t)
	known := acctest.NewLicense(t, 1)
	l := acctest.License{ProductID: known.ProductID, Key: "lk_unknown_" + strings.Repeat("1", 20)}
	acctest.Run(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: licenseDataConfig(l),
			ExpectError: expectError("License not found", "Cannot read the license of product "+l.ProductID, "Invalid license key",
				"KeyMint knows no such license key for this product"),
		}},
	})
}

// fleetConfig activates one seat per host behind a precondition on the
// license's free seats, as the capacity-check example does: hosts that hold a
// seat already need no new one. (The example uses for_each, which the testing
// framework's state checks do not support.)
func fleetConfig(l acctest.License, hosts ...string) string {
	quoted := make([]string, len(hosts))
	for i, h := range hosts {
		quoted[i] = fmt.Sprintf("%q", h)
	}
	return licenseDataConfig(l) + fmt.Sprintf(`
locals {
  hosts     = [%s]
  new_hosts = setsubtract(local.hosts, data.keymint_license.test.devices[*].host_id)
}

resource "keymint_device_activation" "fleet" {
  count       = length(local.hosts)
  product_id  = %q
  license_key = %q
  host_id     = local.hosts[count.index]

  lifecycle {
    precondition {
      condition     = data.keymint_license.test.seats_available == null || try(data.keymint_license.test.seats_available >= length(local.new_hosts), false)
      error_message = "The license has ${coalesce(data.keymint_license.test.seats_available, 0)} free seats; this fleet needs ${length(local.new_hosts)} more."
    }
  }
}
`, strings.Join(quoted, ", "), l.ProductID, l.Key)
}

// TestAccLicenseDataSource_capacityPrecondition: a precondition on
// seats_available stops the plan before any seat is taken.
func TestAccLicenseDataSource_capacityPrecondition(t *testing.T) {
	acctest.PreCheck(t)
	acctest.RequireLocal(t)
	l := acctest.NewLicense(t, 2)
	hosts := []string{acctest.HostID(t, "p1"), acctest.HostID(t, "p2"), acctest.HostID(t, "p3")}
	acctest.Run(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkFreed(t, l, hosts...),
		Steps: []resource.TestStep{
			{
				Config:      fleetConfig(l, hosts...),
				ExpectError: expectError("Resource precondition failed", "The license has 2 free seats; this fleet needs 3 more."),
			},
			{
				// Nothing was activated by the refused plan; a fleet that fits applies.
				PreConfig: func() {
					if got, err := acctest.Hosts(t, l); err != nil || len(got) != 0 {
						t.Fatalf("the refused plan took seats: %v %v", got, err)
					}
				},
				Config: fleetConfig(l, hosts[:2]...),
				Check:  checkHosts(t, l, hosts[:2]...),
			},
		},
	})
}

// TestAccDeviceActivation_machineLifecycle: an activation whose host_id is a
// machine's ID is destroyed with the machine, which frees its seat.
// terraform_data stands in for the machine.
func TestAccDeviceActivation_machineLifecycle(t *testing.T) {
	acctest.PreCheck(t)
	l := acctest.NewLicense(t, 3)
	config := func(machines int) string {
		return fmt.Sprintf(`
resource "terraform_data" "machine" {
  count = %d
  input = "web-${count.index}"
}

resource "keymint_device_activation" "machine" {
  count       = length(terraform_data.machine)
  product_id  = %q
  license_key = %q
  host_id     = terraform_data.machine[count.index].id
  device_tag  = terraform_data.machine[count.index].input
}
`, machines, l.ProductID, l.Key)
	}
	// machineHosts checks that the seats are held by exactly the machines' IDs.
	machineHosts := func(s *terraform.State) error {
		var ids []string
		for addr, rs := range s.RootModule().Resources {
			if strings.HasPrefix(addr, "terraform_data.machine") {
				ids = append(ids, rs.Primary.ID)
			}
		}
		return checkHosts(t, l, ids...)(s)
	}
	acctest.RunExclusive(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkHosts(t, l),
		Steps: []resource.TestStep{
			{Config: config(3), Check: machineHosts},
			// Destroying a machine frees its seat.
			{Config: config(2), Check: machineHosts},
			// A new machine takes the free seat.
			{Config: config(3), Check: machineHosts},
		},
	})
}
