package provider

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/keymint-dev/terraform-provider-keymint/internal/pluginserver"
	"github.com/keymint-dev/terraform-provider-keymint/tools/acctest"
)

// No Terraform CLI that runs actions (1.14 or later) can be built here, so
// the action is tested the way Terraform drives it: over the plugin protocol,
// through the same server stack the provider binary serves, against the test
// server.

const resetAction = "keymint_license_reset"

// actionClient is a configured provider server and the action's schema.
type actionClient struct {
	t      *testing.T
	server actionServer
	typ    tftypes.Type // the action's config type
}

// actionServer is a provider server that serves actions, as the framework's
// server does (the protocol makes actions an optional extension).
type actionServer interface {
	tfprotov6.ProviderServer
	tfprotov6.ActionServer
}

// newActionClient starts the provider as the binary serves it and configures
// it as Terraform does: settings come from the environment acctest exported,
// except for a base URL given here.
func newActionClient(t *testing.T, baseURL string) *actionClient {
	t.Helper()
	ctx := context.Background()
	server, ok := pluginserver.NewServer(providerserver.NewProtocol6(New("test")())()).(actionServer)
	if !ok {
		t.Fatal("the provider's server does not serve actions")
	}
	schemas, err := server.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{})
	if err != nil || hasError(schemas.Diagnostics) {
		t.Fatalf("GetProviderSchema: %v %s", err, diagText(schemas.Diagnostics))
	}
	as, ok := schemas.ActionSchemas[resetAction]
	if !ok {
		t.Fatalf("the provider has no action %s", resetAction)
	}
	providerType := schemas.Provider.ValueType()
	nulls := map[string]tftypes.Value{}
	for name, at := range providerType.(tftypes.Object).AttributeTypes {
		nulls[name] = tftypes.NewValue(at, nil)
	}
	if baseURL != "" {
		nulls["base_url"] = tftypes.NewValue(tftypes.String, baseURL)
	}
	cfg, err := tfprotov6.NewDynamicValue(providerType, tftypes.NewValue(providerType, nulls))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := server.ConfigureProvider(ctx, &tfprotov6.ConfigureProviderRequest{TerraformVersion: "1.14.0", Config: &cfg})
	if err != nil || hasError(resp.Diagnostics) {
		t.Fatalf("ConfigureProvider: %v %s", err, diagText(resp.Diagnostics))
	}
	return &actionClient{t: t, server: server, typ: as.Schema.ValueType()}
}

// config is the action's configuration for a license.
func (c *actionClient) config(l acctest.License) *tfprotov6.DynamicValue {
	c.t.Helper()
	v, err := tfprotov6.NewDynamicValue(c.typ, tftypes.NewValue(c.typ, map[string]tftypes.Value{
		"product_id":  tftypes.NewValue(tftypes.String, l.ProductID),
		"license_key": tftypes.NewValue(tftypes.String, l.Key),
	}))
	if err != nil {
		c.t.Fatal(err)
	}
	return &v
}

// invocation is what an InvokeAction streamed back.
type invocation struct {
	progress  []string
	completed bool
	diags     []*tfprotov6.Diagnostic
}

// run validates, plans and invokes the action as Terraform does, stopping
// at the first step that reports an error.
func (c *actionClient) run(l acctest.License) invocation {
	c.t.Helper()
	ctx := context.Background()
	cfg := c.config(l)
	v, err := c.server.ValidateActionConfig(ctx, &tfprotov6.ValidateActionConfigRequest{ActionType: resetAction, Config: cfg})
	if err != nil {
		c.t.Fatalf("ValidateActionConfig: %v", err)
	}
	if hasError(v.Diagnostics) {
		return invocation{diags: v.Diagnostics}
	}
	p, err := c.server.PlanAction(ctx, &tfprotov6.PlanActionRequest{ActionType: resetAction, Config: cfg})
	if err != nil {
		c.t.Fatalf("PlanAction: %v", err)
	}
	if hasError(p.Diagnostics) {
		return invocation{diags: p.Diagnostics}
	}
	stream, err := c.server.InvokeAction(ctx, &tfprotov6.InvokeActionRequest{ActionType: resetAction, Config: cfg})
	if err != nil {
		c.t.Fatalf("InvokeAction: %v", err)
	}
	var inv invocation
	for ev := range stream.Events {
		switch e := ev.Type.(type) {
		case tfprotov6.ProgressInvokeActionEventType:
			if inv.completed {
				c.t.Errorf("progress %q after the completed event", e.Message)
			}
			inv.progress = append(inv.progress, e.Message)
		case tfprotov6.CompletedInvokeActionEventType:
			inv.completed = true
			inv.diags = e.Diagnostics
		}
	}
	if !inv.completed {
		c.t.Error("the invocation sent no completed event")
	}
	return inv
}

// text is everything the invocation told the user.
func (inv invocation) text() string {
	return strings.Join(inv.progress, "\n") + "\n" + diagText(inv.diags)
}

func hasError(diags []*tfprotov6.Diagnostic) bool {
	for _, d := range diags {
		if d.Severity == tfprotov6.DiagnosticSeverityError {
			return true
		}
	}
	return false
}

func diagText(diags []*tfprotov6.Diagnostic) string {
	var b strings.Builder
	for _, d := range diags {
		fmt.Fprintf(&b, "%s: %s\n", d.Summary, d.Detail)
	}
	return b.String()
}

// requireActionServer skips where the acceptance setup is absent, as the
// CLI tests do; the action tests need the test server only.
func requireActionServer(t *testing.T) {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance tests (the action's included) run with TF_ACC=1")
	}
	acctest.RequireResettable(t)
}

// seatsInUse matches the count of the reset's first progress message: 3 of
// the test license's seats (5 on the local server, the live key's own limit
// live).
var seatsInUse = regexp.MustCompile(`\b3 of \d+ seats are in use\b`)

// TestActionLicenseReset_invoke: the action frees every device, devices
// activated out of band included, and says how many before and after.
func TestActionLicenseReset_invoke(t *testing.T) {
	requireActionServer(t)
	t.Parallel()
	acctest.Exclusive(t) // live, it resets the license every test shares
	c := newActionClient(t, "")
	l := acctest.NewLicense(t, 5)
	hosts := activateHosts(t, l, "a1", "a2", "a3")

	inv := c.run(l)
	if hasError(inv.diags) {
		t.Fatalf("invocation failed: %s", diagText(inv.diags))
	}
	if len(inv.progress) != 2 {
		t.Fatalf("progress messages = %q, want one before and one after", inv.progress)
	}
	before := fmt.Sprintf("Resetting the license of product %s.", l.ProductID)
	if !strings.HasPrefix(inv.progress[0], before) || !seatsInUse.MatchString(inv.progress[0]) || !strings.Contains(inv.progress[0], hosts[0]) {
		t.Errorf("first progress message = %q, want it to start %q and give the seats in use and their hosts", inv.progress[0], before)
	}
	after := fmt.Sprintf("Reset the license of product %s: 3 devices freed.", l.ProductID)
	if inv.progress[1] != after {
		t.Errorf("last progress message = %q, want %q", inv.progress[1], after)
	}
	if got, err := acctest.Hosts(t, l); err != nil || len(got) != 0 {
		t.Errorf("the server still holds %q (%v) after the reset", got, err)
	}
	if strings.Contains(inv.text(), l.Key) {
		t.Errorf("the license key appears in what the action said:\n%s", inv.text())
	}

	// Invoked again on the now empty license ("License not activated"): a success freeing nothing.
	inv = c.run(l)
	if hasError(inv.diags) {
		t.Fatalf("second invocation failed: %s", diagText(inv.diags))
	}
	if want := fmt.Sprintf("Reset the license of product %s: 0 devices freed.", l.ProductID); len(inv.progress) != 2 || inv.progress[1] != want {
		t.Errorf("progress of the second invocation = %q, want it to end with %q", inv.progress, want)
	}
}

// TestActionLicenseReset_unknownKey: an unknown key fails with a not-found
// error naming the product and never the key; nothing else is touched.
func TestActionLicenseReset_unknownKey(t *testing.T) {
	requireActionServer(t)
	t.Parallel()
	acctest.Shared(t)
	c := newActionClient(t, "")
	known := acctest.NewLicense(t, 2)
	other := activateHosts(t, known, "keep")
	l := acctest.License{ProductID: known.ProductID, Key: "lk_unknown_" + strings.Repeat("2", 20)}

	inv := c.run(l)
	if !hasError(inv.diags) {
		t.Fatalf("invocation with an unknown key succeeded: %q", inv.progress)
	}
	text := inv.text()
	for _, want := range []string{"License not found", "Cannot reset the license of product " + l.ProductID, "KeyMint knows no such license key for this product"} {
		if !strings.Contains(text, want) {
			t.Errorf("the error does not say %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, l.Key) {
		t.Errorf("the error contains the license key:\n%s", text)
	}
	if len(inv.progress) != 0 {
		t.Errorf("progress sent for a failed read: %q", inv.progress)
	}
	if got, err := acctest.Hosts(t, known); err != nil || len(got) != 1 || got[0] != other[0] {
		t.Errorf("another license of the product changed: %q %v", got, err)
	}
}

// TestActionLicenseReset_validate: arguments outside the API's limits are
// refused when Terraform validates the configuration, before any API call.
func TestActionLicenseReset_validate(t *testing.T) {
	requireActionServer(t)
	c := newActionClient(t, acctest.IsolatedServer(t)) // fails the test if any call reaches it
	tests := []struct {
		l    acctest.License
		want string
	}{
		{acctest.License{ProductID: "prod_1", Key: "lk_" + strings.Repeat("k", 24)}, "product_id UTF-8 character count must be between 22 and 256, got: 6"},
		{acctest.License{ProductID: "prod_" + strings.Repeat("p", 20), Key: strings.Repeat("k", 257)}, "license_key is not a usable license key: it must be 1 to 256 characters long, got: 257"},
	}
	for _, tt := range tests {
		inv := c.run(tt.l)
		if !hasError(inv.diags) || !strings.Contains(diagText(inv.diags), tt.want) {
			t.Errorf("validation of %+v said %q, want an error saying %q", tt.l, diagText(inv.diags), tt.want)
		}
		if inv.completed {
			t.Errorf("the action was invoked with %+v", tt.l)
		}
	}

	// Values known only at apply (a key from another resource, say) pass
	// validation and planning; they are checked when known.
	ctx := context.Background()
	unknown, err := tfprotov6.NewDynamicValue(c.typ, tftypes.NewValue(c.typ, map[string]tftypes.Value{
		"product_id":  tftypes.NewValue(tftypes.String, "prod_"+strings.Repeat("p", 20)),
		"license_key": tftypes.NewValue(tftypes.String, tftypes.UnknownValue),
	}))
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.server.ValidateActionConfig(ctx, &tfprotov6.ValidateActionConfigRequest{ActionType: resetAction, Config: &unknown})
	if err != nil || hasError(v.Diagnostics) {
		t.Errorf("validating an unknown license_key: %v %s", err, diagText(v.Diagnostics))
	}
	p, err := c.server.PlanAction(ctx, &tfprotov6.PlanActionRequest{ActionType: resetAction, Config: &unknown})
	if err != nil || hasError(p.Diagnostics) {
		t.Errorf("planning with an unknown license_key: %v %s", err, diagText(p.Diagnostics))
	}
}
