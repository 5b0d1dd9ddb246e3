package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/keymint-dev/terraform-provider-keymint/internal/keymint"
	"github.com/keymint-dev/terraform-provider-keymint/internal/localserver"
	"github.com/keymint-dev/terraform-provider-keymint/tools/acctest"
)

const keyAddr = "keymint_license_key.env"

// keyEnvConfig declares a key (extra: more of its arguments), an
// activation of host on it and the keymint_license data source reading it,
// all in one configuration: the key is unknown until it is created.
func keyEnvConfig(productID, host, extra string) string {
	return fmt.Sprintf(`
resource "keymint_license_key" "env" {
  product_id = %q
%s
  metadata = {
    environment = "staging"
  }
}

resource "keymint_device_activation" "web" {
  product_id  = keymint_license_key.env.product_id
  license_key = keymint_license_key.env.key
  host_id     = %q
}

data "keymint_license" "env" {
  product_id  = keymint_license_key.env.product_id
  license_key = keymint_license_key.env.key
  depends_on  = [keymint_device_activation.web]
}
`, productID, extra, host)
}

// stateKey returns the key of the resource at addr in s.
func stateKey(s *terraform.State, addr string) (acctest.License, error) {
	rs, ok := s.RootModule().Resources[addr]
	if !ok {
		return acctest.License{}, fmt.Errorf("%s is not in state", addr)
	}
	key := rs.Primary.Attributes["key"]
	if key == "" {
		return acctest.License{}, fmt.Errorf("%s has no key in state", addr)
	}
	return acctest.License{ProductID: rs.Primary.Attributes["product_id"], Key: key}, nil
}

// keyHolder remembers the key a test created, for the checks of later
// steps and CheckDestroy.
type keyHolder struct {
	t   *testing.T
	key acctest.License
}

// capture records the key of keymint_license_key.env in state; the key
// must not change afterwards (an in-place change keeps it).
func (h *keyHolder) capture() resource.TestCheckFunc {
	const addr = keyAddr
	return func(s *terraform.State) error {
		l, err := stateKey(s, addr)
		if err != nil {
			return err
		}
		if h.key.Key != "" && h.key.Key != l.Key {
			return fmt.Errorf("the key changed: %s replaced by %s", localserver.MaskKey(h.key.Key), localserver.MaskKey(l.Key))
		}
		h.key = l
		id := s.RootModule().Resources[addr].Primary.ID
		if strings.Contains(id, l.Key) || id != licenseKeyID(l.ProductID, l.Key) {
			return fmt.Errorf("the resource ID %q is not <product_id>/<fingerprint>, or holds the key", id)
		}
		return nil
	}
}

// server reads the key from the server.
func (h *keyHolder) server() (*keymint.License, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return acctest.Get(h.t).Client.GetKey(ctx, h.key.ProductID, h.key.Key)
}

// check asserts what the server holds for the key: the seat limit (0 =
// unlimited), whether it is enabled, and which hosts hold seats.
func (h *keyHolder) check(limit int64, enabled bool, hosts ...string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		lic, err := h.server()
		if err != nil {
			return fmt.Errorf("reading the key from the server: %w", err)
		}
		switch {
		case limit == 0 && lic.MaxActivations != nil, limit != 0 && (lic.MaxActivations == nil || *lic.MaxActivations != limit):
			return fmt.Errorf("the server's seat limit is %v, want %d", lic.MaxActivations, limit)
		case lic.Activated != enabled:
			return fmt.Errorf("the server's activated is %v, want %v", lic.Activated, enabled)
		}
		return checkHosts(h.t, h.key, hosts...)(s)
	}
}

// outside changes the key behind Terraform's back.
func (h *keyHolder) outside(change func(ctx context.Context, c *keymint.Client, l acctest.License) error) func() {
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := change(ctx, acctest.Get(h.t).Client, h.key); err != nil {
			h.t.Fatalf("changing the key outside Terraform: %v", err)
		}
	}
}

// expectDrift is a plan check: the refresh before the plan found that
// attribute of addr changed from before to after outside Terraform.
type expectDrift struct {
	addr, attribute string
	before, after   any
}

func (c expectDrift) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	for _, rc := range req.Plan.ResourceDrift {
		if rc.Address != c.addr {
			continue
		}
		before, _ := rc.Change.Before.(map[string]any)
		after, _ := rc.Change.After.(map[string]any)
		if jsonEqualAny(before[c.attribute], c.before) && jsonEqualAny(after[c.attribute], c.after) {
			return
		}
		resp.Error = fmt.Errorf("%s.%s drifted from %v to %v, want %v to %v", c.addr, c.attribute, before[c.attribute], after[c.attribute], c.before, c.after)
		return
	}
	resp.Error = fmt.Errorf("the plan shows no drift of %s", c.addr)
}

func jsonEqualAny(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// TestAccLicenseKey_lifecycle: a key created with 3 seats and used by an
// activation and the data source in the same apply; the seat limit raised
// in place (same key, no replacement); drift of the seat limit and of
// blocked made outside Terraform shows in the plan and is undone; blocked
// in place; import; destroy frees the activation and blocks the key.
func TestAccLicenseKey_lifecycle(t *testing.T) {
	acctest.PreCheck(t)
	product := acctest.NewProduct(t)
	host := acctest.HostID(t, "env")
	h := &keyHolder{t: t}
	seats := func(n int) string { return fmt.Sprintf("  max_activations = %d\n", n) }
	keyVar := "KEYMINT_ACCTEST_NEWKEY_" + strings.ToUpper(strings.ReplaceAll(acctest.HostID(t, "k"), "-", "_"))
	t.Cleanup(func() { _ = os.Unsetenv(keyVar) })
	monthOn := time.Now().AddDate(0, 1, 0).UTC().Format("2006-01-02")

	acctest.Run(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy: func(s *terraform.State) error {
			lic, err := h.server()
			if err != nil {
				return fmt.Errorf("reading the key after destroy: %w", err)
			}
			if lic.Activated {
				return fmt.Errorf("the key is not blocked after destroy")
			}
			return checkFreed(t, h.key, host)(s)
		},
		Steps: []resource.TestStep{
			{
				Config: keyEnvConfig(product, host, seats(3)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(keyAddr, plancheck.ResourceActionCreate),
						plancheck.ExpectUnknownValue(keyAddr, tfjsonpath.New("key")),
						plancheck.ExpectUnknownValue(keyAddr, tfjsonpath.New("expiration_date")),
						plancheck.ExpectKnownValue(keyAddr, tfjsonpath.New("customer_id"), knownvalue.Null()),
						plancheck.ExpectSensitiveValue(keyAddr, tfjsonpath.New("key")),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(keyAddr, tfjsonpath.New("max_activations"), knownvalue.Int64Exact(3)),
					statecheck.ExpectKnownValue(keyAddr, tfjsonpath.New("blocked"), knownvalue.Bool(false)),
					statecheck.ExpectKnownValue(keyAddr, tfjsonpath.New("activated"), knownvalue.Bool(true)),
					// KeyMint's default: one month from creation.
					statecheck.ExpectKnownValue(keyAddr, tfjsonpath.New("expiration_date"), knownvalue.StringRegexp(regexp.MustCompile(`^`+monthOn[:8]))),
					statecheck.ExpectKnownValue("data.keymint_license.env", tfjsonpath.New("activations"), knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue("data.keymint_license.env", tfjsonpath.New("seats_available"), knownvalue.Int64Exact(2)),
					statecheck.ExpectKnownValue("keymint_device_activation.web", tfjsonpath.New("host_id"), knownvalue.StringExact(host)),
				},
				Check: resource.ComposeTestCheckFunc(h.capture(), func(s *terraform.State) error { return h.check(3, true, host)(s) }),
			},
			{
				// The seat limit raised: in place, the same key, the
				// activation untouched.
				Config: keyEnvConfig(product, host, seats(5)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(keyAddr, plancheck.ResourceActionUpdate),
						plancheck.ExpectResourceAction("keymint_device_activation.web", plancheck.ResourceActionNoop),
						plancheck.ExpectKnownValue(keyAddr, tfjsonpath.New("max_activations"), knownvalue.Int64Exact(5)),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.keymint_license.env", tfjsonpath.New("max_activations"), knownvalue.Int64Exact(5)),
				},
				Check: resource.ComposeTestCheckFunc(h.capture(), h.check(5, true, host)),
			},
			{
				// The seat limit and blocked changed outside Terraform: the
				// plan shows the drift and puts both back.
				PreConfig: h.outside(func(ctx context.Context, c *keymint.Client, l acctest.License) error {
					if err := c.UpdateKey(ctx, keymint.UpdateKeyInput{ProductID: l.ProductID, LicenseKey: l.Key, SetMaxActivations: true, MaxActivations: new(int64(7))}); err != nil {
						return err
					}
					return c.BlockKey(ctx, l.ProductID, l.Key)
				}),
				Config: keyEnvConfig(product, host, seats(5)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						expectDrift{keyAddr, "max_activations", 5, 7},
						expectDrift{keyAddr, "blocked", false, true},
						plancheck.ExpectResourceAction(keyAddr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(keyAddr, tfjsonpath.New("max_activations"), knownvalue.Int64Exact(5)),
						plancheck.ExpectKnownValue(keyAddr, tfjsonpath.New("blocked"), knownvalue.Bool(false)),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: resource.ComposeTestCheckFunc(h.capture(), h.check(5, true, host)),
			},
			{
				// Blocked in place: the device keeps its seat.
				Config: keyEnvConfig(product, host, seats(5)+"  blocked = true\n"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(keyAddr, plancheck.ResourceActionUpdate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(keyAddr, tfjsonpath.New("activated"), knownvalue.Bool(false)),
					statecheck.ExpectKnownValue("data.keymint_license.env", tfjsonpath.New("activated"), knownvalue.Bool(false)),
				},
				Check: resource.ComposeTestCheckFunc(h.capture(), h.check(5, false, host)),
			},
			{
				// Unblocked again, and unlimited.
				Config: keyEnvConfig(product, host, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(keyAddr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(keyAddr, tfjsonpath.New("max_activations"), knownvalue.Null()),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: resource.ComposeTestCheckFunc(h.capture(), h.check(0, true, host)),
			},
			{
				ResourceName:            keyAddr,
				ImportState:             true,
				ImportStateIdFunc:       func(*terraform.State) (string, error) { return h.key.ProductID + "/" + h.key.Key, nil },
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"metadata"},
			},
			{
				// The key from the environment, out of the import ID.
				PreConfig: func() {
					//nolint:usetesting // a parallel test cannot use t.Setenv; the name is unique to it
					_ = os.Setenv(keyVar, h.key.Key)
				},
				ResourceName:            keyAddr,
				ImportState:             true,
				ImportStateId:           product + "/env:" + keyVar,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"metadata"},
			},
			{
				ResourceName:  keyAddr,
				ImportState:   true,
				ImportStateId: product,
				ExpectError:   expectError(`expected the form <product_id>/<license_key>`),
			},
			{
				ResourceName:  keyAddr,
				ImportState:   true,
				ImportStateId: product + "/NOT-A-KEY-" + strings.ToUpper(acctest.HostID(t, "x")),
				ExpectError:   expectError(`Cannot import non-existent remote object`),
			},
		},
	})
}

// TestAccLicenseKey_customers: new_customer makes a customer; a key moved
// to another customer outside Terraform is moved back; customer_id moves it
// in place.
func TestAccLicenseKey_customers(t *testing.T) {
	acctest.PreCheck(t)
	acctest.RequireLocal(t)
	product := acctest.NewProduct(t)
	// A key of another customer, which makes that customer known.
	acctest.NewLocalLicense(t, func(l *localserver.LicenseSeed) {
		l.Customer = &localserver.Customer{ID: "cus_other_" + product[len(product)-8:], Name: "Other Co", Email: "other-" + product + "@example.test", Active: true}
	})
	otherID := "cus_other_" + product[len(product)-8:]
	email := "ops-" + product + "@example.test"
	h := &keyHolder{t: t}
	withNew := fmt.Sprintf(`
resource "keymint_license_key" "env" {
  product_id      = %q
  max_activations = 2
  new_customer {
    name  = "Ops Team"
    email = %q
  }
}
`, product, email)
	withID := fmt.Sprintf(`
resource "keymint_license_key" "env" {
  product_id      = %q
  max_activations = 2
  customer_id     = %q
}
`, product, otherID)
	var created string
	acctest.Run(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: withNew,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectUnknownValue(keyAddr, tfjsonpath.New("customer_id"))},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(keyAddr, tfjsonpath.New("customer"), knownvalue.ObjectPartial(map[string]knownvalue.Check{
						"name": knownvalue.StringExact("Ops Team"), "email": knownvalue.StringExact(email), "active": knownvalue.Bool(true),
					})),
				},
				Check: resource.ComposeTestCheckFunc(h.capture(), func(s *terraform.State) error {
					created = s.RootModule().Resources[keyAddr].Primary.Attributes["customer_id"]
					if created == "" || created != s.RootModule().Resources[keyAddr].Primary.Attributes["customer.id"] {
						return fmt.Errorf("customer_id %q is not the new customer's ID", created)
					}
					return nil
				}),
			},
			{
				// Moved to another customer outside Terraform: moved back.
				PreConfig: h.outside(func(ctx context.Context, c *keymint.Client, l acctest.License) error {
					return c.UpdateKey(ctx, keymint.UpdateKeyInput{ProductID: l.ProductID, LicenseKey: l.Key, CustomerID: &otherID})
				}),
				Config: withNew,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						expectDrift{keyAddr, "customer_id", &created, otherID}, // created is set by step 1
						plancheck.ExpectResourceAction(keyAddr, plancheck.ResourceActionUpdate),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: func(*terraform.State) error {
					lic, err := h.server()
					if err != nil {
						return fmt.Errorf("reading the key: %w", err)
					}
					if lic.Customer == nil || lic.Customer.ID != created {
						return fmt.Errorf("after the apply the key's customer is %+v, want %s", lic.Customer, created)
					}
					return nil
				},
			},
			{
				// customer_id instead: in place.
				Config: withID,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(keyAddr, plancheck.ResourceActionUpdate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(keyAddr, tfjsonpath.New("customer").AtMapKey("name"), knownvalue.StringExact("Other Co")),
				},
				Check: h.capture(),
			},
			{
				// A new customer with an e-mail address taken: KeyMint refuses,
				// and the error says what to do.
				Config:      strings.Replace(withNew, email, "other-"+product+"@example.test", 1),
				ExpectError: expectError("A KeyMint customer has this e-mail address already", "customer_id"),
			},
		},
	})
}

// TestAccLicenseKey_format: a key in a custom format; changing the format
// makes a new key and blocks the old one.
func TestAccLicenseKey_format(t *testing.T) {
	acctest.PreCheck(t)
	acctest.RequireLocal(t)
	product := acctest.NewProduct(t)
	config := func(prefix string) string {
		return fmt.Sprintf(`
resource "keymint_license_key" "env" {
  product_id = %q
  format {
    sections       = 2
    section_length = 8
    separator      = ""
    charset        = "hex"
    prefix         = %q
    case           = "lower"
  }
}
`, product, prefix)
	}
	first := &keyHolder{t: t}
	second := &keyHolder{t: t}
	acctest.Run(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config("STG-"),
				Check: resource.ComposeTestCheckFunc(first.capture(), func(*terraform.State) error {
					if !regexp.MustCompile(`^STG-[0-9a-f]{16}$`).MatchString(first.key.Key) {
						return fmt.Errorf("the key is not in the format: %d characters", len(first.key.Key))
					}
					return nil
				}),
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
			{
				Config: config("PRD-"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(keyAddr, plancheck.ResourceActionReplace)},
				},
				Check: resource.ComposeTestCheckFunc(second.capture(), first.check(0, false), func(*terraform.State) error {
					if !strings.HasPrefix(second.key.Key, "PRD-") {
						return fmt.Errorf("the new key does not start with PRD-")
					}
					return nil
				}),
			},
		},
	})
}

// TestAccLicenseKey_refusedBeforeAnyCall: arguments KeyMint would refuse are
// refused at plan time, before any API call.
func TestAccLicenseKey_refusedBeforeAnyCall(t *testing.T) {
	acctest.PreCheck(t)
	baseURL := acctest.IsolatedServer(t)
	const product = "prod_refused_0123456789abc"
	for _, tc := range []struct{ name, body, want string }{
		{"both customers", `customer_id = "cus_1"
  new_customer {
    name = "X"
  }`, `These attributes cannot be configured together`},
		{"nameless customer", `new_customer {
    email = "a@example.test"
  }`, `A new_customer block needs a name`},
		{"bad e-mail", `new_customer {
    name  = "X"
    email = "nobody"
  }`, `must be an e-mail address`},
		{"zero seats", `max_activations = 0`, `max_activations value must be at least 1`},
		{"bad date", `expiration_date = "31/12/2030"`, `must be an RFC 3339 date-time`},
		{"reserved metadata", `metadata = { terraform_creation_token = "x" }`, `terraform_creation_token`},
		{"long format", `format {
    sections       = 10
    section_length = 32
  }`, `This format makes keys of 329 characters`},
		{"case", `format {
    case = "title"
  }`, `value must be one of`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			acctest.Run(t, resource.TestCase{
				ProtoV6ProviderFactories: protoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config: fmt.Sprintf(`
provider "keymint" {
  base_url = %q
}

resource "keymint_license_key" "env" {
  product_id = %q
  %s
}
`, baseURL, product, tc.body),
					PlanOnly:    true,
					ExpectError: expectError(tc.want),
				}},
			})
		})
	}
}

// TestAccLicenseKey_createAnswerLost: a create whose answer is lost is not
// sent again; the error names the creation token, by which the key that
// was made after all is found; nothing is in state.
func TestAccLicenseKey_createAnswerLost(t *testing.T) {
	acctest.PreCheck(t)
	e := acctest.Get(t)
	acctest.RequireLocal(t)
	srv, err := localserver.New(localserver.Options{Seed: localserver.Seed{AccessTokens: []string{e.Token}}, Faults: localserver.FaultConfig{LostAnswerRate: 1}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	const product = "prod_lost_answer_0123456789"
	if err := srv.AddProduct(product); err != nil {
		t.Fatal(err)
	}
	tokenShape := regexp.MustCompile(`tfc-[0-9a-f]{32}`)
	acctest.Run(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: fmt.Sprintf(`
provider "keymint" {
  base_url    = %q
  max_retries = 3
}

resource "keymint_license_key" "env" {
  product_id = %q
}
`, hs.URL, product),
			ExpectError: expectError("License key may have been created", "does not send the create again", "terraform_creation_token"),
		}},
		CheckDestroy: func(s *terraform.State) error {
			if _, ok := s.RootModule().Resources[keyAddr]; ok {
				return fmt.Errorf("a key whose create answer was lost is in state")
			}
			return nil
		},
	})
	// One create reached the server, and made one key, carrying a token.
	keys := srv.Keys(product)
	calls := srv.MethodCalls()
	if n := calls["POST /create-key"] + calls["POST /key"]; n != 1 || len(keys) != 1 {
		t.Fatalf("%d creates sent, %d keys made; want 1 and 1", n, len(keys))
	}
	md, err := srv.Metadata(product, keys[0])
	if tok, _ := md[creationTokenKey].(string); err != nil || !tokenShape.MatchString(tok) {
		t.Errorf("the key's metadata %v holds no creation token", md)
	}
}

// TestAccLicenseKey_scopes: a token that may not create keys gets an error
// naming the scope.
func TestAccLicenseKey_scopes(t *testing.T) {
	acctest.PreCheck(t)
	acctest.RequireLocal(t)
	product := acctest.NewProduct(t)
	acctest.Run(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: fmt.Sprintf(`
provider "keymint" {
  access_token = %q
}

resource "keymint_license_key" "env" {
  product_id = %q
}
`, acctest.Get(t).ClientToken, product),
			ExpectError: expectError("Access token lacks a scope", "licenses:write"),
		}},
	})
}

func TestParseLicenseKeyImportID(t *testing.T) {
	const product = "prod_0123456789abcdefghij"
	t.Setenv("KEYMINT_TEST_IMPORT_KEY", "ABCDE-12345")
	for _, tc := range []struct{ id, key, err string }{
		{product + "/ABCDE-12345", "ABCDE-12345", ""},
		{product + "/env:KEYMINT_TEST_IMPORT_KEY", "ABCDE-12345", ""},
		{product + "/with/slash", "with/slash", ""},
		{product, "", `has no "/"`},
		{"/ABCDE", "", "product_id part of the import ID is empty"},
		{product + "/", "", "license_key part of the import ID is empty"},
		{product + "/env:", "", "without a variable name"},
		{product + "/env:KEYMINT_TEST_IMPORT_UNSET", "", "not set or empty"},
		{"prod_short/ABCDE", "", "must be 22 to 256 characters"},
		{product + "/ ABCDE", "", "whitespace"},
	} {
		_, key, err := parseLicenseKeyImportID(tc.id)
		switch {
		case tc.err == "" && (err != nil || key != tc.key):
			t.Errorf("%q: key %q, err %v", tc.id, key, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: err %v, want %q", tc.id, err, tc.err)
		case err != nil && strings.Contains(err.Error(), "ABCDE"):
			t.Errorf("%q: the error repeats the key: %v", tc.id, err)
		}
	}
}

func TestBlockedFromRead(t *testing.T) {
	dev := []keymint.Device{{HostID: "h"}}
	for _, tc := range []struct {
		activated bool
		devices   []keymint.Device
		prior     types.Bool
		means     string
		want      bool
		learnt    string
	}{
		{true, nil, types.BoolNull(), "", false, activatedMeansEnabled},
		{true, dev, types.BoolValue(true), "", false, ""},
		{false, dev, types.BoolValue(false), activatedMeansDevices, true, activatedMeansDevices},
		{false, nil, types.BoolValue(false), activatedMeansEnabled, true, activatedMeansEnabled},
		// Without devices, "false" says nothing on a server that reports
		// whether devices hold seats: the prior value stays.
		{false, nil, types.BoolValue(false), activatedMeansDevices, false, activatedMeansDevices},
		{false, nil, types.BoolValue(true), activatedMeansDevices, true, activatedMeansDevices},
		{false, nil, types.BoolValue(false), "", false, ""},
		{false, nil, types.BoolNull(), "", true, ""},
	} {
		got, learnt := blockedFromRead(&keymint.License{Activated: tc.activated, Devices: tc.devices}, tc.prior, tc.means)
		if got.ValueBool() != tc.want || learnt != tc.learnt {
			t.Errorf("%+v: blocked %v, learnt %q", tc, got, learnt)
		}
	}
}

// TestAccLicenseKey_keyUnknownAtPlan: every type that takes a license key
// accepts one that is only known once the key is created, in the same
// apply: the data source, an activation and a reset.
func TestAccLicenseKey_keyUnknownAtPlan(t *testing.T) {
	acctest.PreCheck(t)
	product := acctest.NewProduct(t)
	host := acctest.HostID(t, "unknown")
	h := &keyHolder{t: t}
	config := fmt.Sprintf(`
resource "keymint_license_key" "env" {
  product_id      = %q
  max_activations = 2
}

data "keymint_license" "env" {
  product_id  = keymint_license_key.env.product_id
  license_key = keymint_license_key.env.key
}

resource "keymint_license_reset" "env" {
  product_id  = keymint_license_key.env.product_id
  license_key = keymint_license_key.env.key
}

resource "keymint_device_activation" "web" {
  product_id  = keymint_license_key.env.product_id
  license_key = keymint_license_key.env.key
  host_id     = %q
  depends_on  = [keymint_license_reset.env]
}
`, product, host)
	acctest.Run(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: config,
			ConfigPlanChecks: resource.ConfigPlanChecks{
				PreApply: []plancheck.PlanCheck{
					plancheck.ExpectUnknownValue("keymint_device_activation.web", tfjsonpath.New("license_key")),
					plancheck.ExpectUnknownValue("keymint_license_reset.env", tfjsonpath.New("license_key")),
				},
				PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
			},
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("data.keymint_license.env", tfjsonpath.New("max_activations"), knownvalue.Int64Exact(2)),
				statecheck.ExpectKnownValue("keymint_license_reset.env", tfjsonpath.New("devices_removed"), knownvalue.Int64Exact(0)),
			},
			Check: resource.ComposeTestCheckFunc(h.capture(), func(s *terraform.State) error { return h.check(2, true, host)(s) }),
		}},
	})
}

// TestAccLicenseKey_expiry: an expiry written in another spelling than
// KeyMint's is no change; a new one changes in place; one changed outside
// Terraform shows as drift and is put back.
func TestAccLicenseKey_expiry(t *testing.T) {
	acctest.PreCheck(t)
	product := acctest.NewProduct(t)
	h := &keyHolder{t: t}
	config := func(expiry string) string {
		return fmt.Sprintf(`
resource "keymint_license_key" "env" {
  product_id      = %q
  expiration_date = %q
}
`, product, expiry)
	}
	expiryIs := func(want time.Time) resource.TestCheckFunc {
		return func(*terraform.State) error {
			lic, err := h.server()
			if err != nil {
				return err
			}
			got, err := time.Parse(time.RFC3339Nano, lic.ExpirationDate)
			if err != nil || !got.Equal(want) {
				return fmt.Errorf("the server's expiry is %q, want %v", lic.ExpirationDate, want)
			}
			return nil
		}
	}
	acctest.Run(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config("2031-01-02T05:04:05+02:00"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(keyAddr, tfjsonpath.New("expiration_date"), knownvalue.StringExact("2031-01-02T05:04:05+02:00")),
				},
				Check: resource.ComposeTestCheckFunc(h.capture(), expiryIs(time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC))),
			},
			{
				Config: config("2032-06-30T23:59:59Z"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(keyAddr, plancheck.ResourceActionUpdate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: resource.ComposeTestCheckFunc(h.capture(), expiryIs(time.Date(2032, 6, 30, 23, 59, 59, 0, time.UTC))),
			},
			{
				PreConfig: h.outside(func(ctx context.Context, c *keymint.Client, l acctest.License) error {
					return c.UpdateKey(ctx, keymint.UpdateKeyInput{ProductID: l.ProductID, LicenseKey: l.Key, ExpiryDate: new("2030-01-01T00:00:00Z")})
				}),
				Config: config("2032-06-30T23:59:59Z"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						expectDrift{keyAddr, "expiration_date", "2032-06-30T23:59:59Z", "2030-01-01T00:00:00.000Z"},
						plancheck.ExpectResourceAction(keyAddr, plancheck.ResourceActionUpdate),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: resource.ComposeTestCheckFunc(h.capture(), expiryIs(time.Date(2032, 6, 30, 23, 59, 59, 0, time.UTC))),
			},
			{
				// Removed from the configuration: the expiry stays.
				Config: fmt.Sprintf("resource \"keymint_license_key\" \"env\" {\n  product_id = %q\n}\n", product),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(keyAddr, plancheck.ResourceActionNoop)},
				},
				Check: expiryIs(time.Date(2032, 6, 30, 23, 59, 59, 0, time.UTC)),
			},
		},
	})
}
