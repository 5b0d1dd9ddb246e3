package schemadump_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	tfjson "github.com/hashicorp/terraform-json"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/zclconf/go-cty/cty"

	"github.com/keymint-dev/terraform-provider-keymint/internal/provider"
	"github.com/keymint-dev/terraform-provider-keymint/tools/clirun"
	"github.com/keymint-dev/terraform-provider-keymint/tools/schemadump"
)

// keymintSchemas returns the KeyMint provider's schemas as the command
// writes them.
func keymintSchemas(t *testing.T) *tfjson.ProviderSchemas {
	t.Helper()
	server, err := providerserver.NewProtocol6WithError(provider.New("dev")())()
	if err != nil {
		t.Fatal(err)
	}
	schemas, err := schemadump.ProviderSchemas(t.Context(), server, "keymint")
	if err != nil {
		t.Fatal(err)
	}
	return schemas
}

// TestProviderSchemasRoundTrip checks that the output is what tfjson, and
// so tfplugindocs, reads back, and that it holds the KeyMint schemas.
func TestProviderSchemasRoundTrip(t *testing.T) {
	data, err := json.Marshal(keymintSchemas(t))
	if err != nil {
		t.Fatal(err)
	}
	var decoded tfjson.ProviderSchemas
	if err := json.Unmarshal(data, &decoded); err != nil { // validates too
		t.Fatalf("decoding the output: %v", err)
	}
	if err := decoded.Validate(); err != nil {
		t.Fatal(err)
	}
	if again := mustJSON(t, &decoded); again != mustJSON(t, keymintSchemas(t)) {
		t.Error("the output changes in a decode and encode round trip")
	}

	ps := decoded.Schemas["keymint"]
	if ps == nil {
		t.Fatalf("no provider_schemas entry keymint in %s", data)
	}
	if ps.ConfigSchema == nil || ps.ConfigSchema.Block.Attributes["access_token"] == nil {
		t.Error("no provider configuration with access_token")
	} else if a := ps.ConfigSchema.Block.Attributes["access_token"]; !a.Sensitive || !a.Optional {
		t.Errorf("access_token: got %+v, want optional and sensitive", a)
	}
	res := ps.ResourceSchemas["keymint_device_activation"]
	if res == nil || res.Block == nil {
		t.Fatal("no resource keymint_device_activation")
	}
	attrs := res.Block.Attributes
	for name, want := range map[string]tfjson.SchemaAttribute{
		"license_key": {Required: true, Sensitive: true},
		"host_id":     {Required: true},
		"id":          {Computed: true},
	} {
		a := attrs[name]
		if a == nil {
			t.Errorf("no attribute %s", name)
			continue
		}
		if a.Required != want.Required || a.Computed != want.Computed || a.Sensitive != want.Sensitive {
			t.Errorf("%s: got required=%t computed=%t sensitive=%t, want %+v", name, a.Required, a.Computed, a.Sensitive, want)
		}
		if !a.AttributeType.Equals(cty.String) {
			t.Errorf("%s: type %s, want string", name, a.AttributeType.FriendlyName())
		}
		if a.Description == "" || a.DescriptionKind != tfjson.SchemaDescriptionKindMarkdown {
			t.Errorf("%s: description %q of kind %q, want a markdown description", name, a.Description, a.DescriptionKind)
		}
	}
}

// failingServer answers GetProviderSchema with an error diagnostic.
type failingServer struct{ tfprotov6.ProviderServer }

func (failingServer) GetProviderSchema(context.Context, *tfprotov6.GetProviderSchemaRequest) (*tfprotov6.GetProviderSchemaResponse, error) {
	return &tfprotov6.GetProviderSchemaResponse{Diagnostics: []*tfprotov6.Diagnostic{
		{Severity: tfprotov6.DiagnosticSeverityWarning, Summary: "just a warning"},
		{Severity: tfprotov6.DiagnosticSeverityError, Summary: "Broken schema", Detail: "attribute x is bad"},
	}}, nil
}

func TestProviderSchemasFailsOnErrorDiagnostics(t *testing.T) {
	_, err := schemadump.ProviderSchemas(t.Context(), failingServer{}, "keymint")
	if err == nil || !strings.Contains(err.Error(), "Broken schema: attribute x is bad") || strings.Contains(err.Error(), "warning") {
		t.Fatalf("got error %v, want the error diagnostic alone", err)
	}
}

// TestMatchesTerraform compares the KeyMint provider's schemas with what
// Terraform 1.5.7 prints for the built provider.
func TestMatchesTerraform(t *testing.T) {
	cli := terraformCLI(t)
	t.Parallel()
	bin, err := clirun.BuildBinary(t.Context(), t.TempDir(), "terraform-provider-keymint", ".")
	if err != nil {
		t.Fatal(err)
	}
	want := terraformSchema(t, cli, filepath.Dir(bin), "keymint-dev/keymint")
	assertSameAsTerraform(t, want, keymintSchemas(t).Schemas["keymint"])
}

// TestFixtureProvider checks the shapes the KeyMint provider lacks, with
// the provider of testdata/fixtureprovider: always against a few
// expectations, and against Terraform 1.5.7 when it is available.
func TestFixtureProvider(t *testing.T) {
	t.Parallel()
	bin, err := clirun.BuildBinary(t.Context(), t.TempDir(), "terraform-provider-fixture", "./tools/schemadump/testdata/fixtureprovider")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(t.Context(), bin, "-schema").Output()
	if err != nil {
		t.Fatalf("%s -schema: %v", bin, err)
	}
	var schemas tfjson.ProviderSchemas
	if err := json.Unmarshal(out, &schemas); err != nil {
		t.Fatalf("decoding the output of %s -schema: %v", bin, err)
	}
	ours := schemas.Schemas["fixture"]
	if ours == nil {
		t.Fatalf("no provider_schemas entry fixture in %s", out)
	}

	act := ours.ActionSchemas["fixture_reset"]
	if act == nil || act.Block == nil {
		t.Fatal("no action fixture_reset")
	}
	if got := mustJSON(t, act.Block.Attributes); got != `{"name":{"type":"string","description":"Which thing.","description_kind":"markdown","required":true},"reason":{"type":"string","description_kind":"plain","optional":true}}` {
		t.Errorf("action attributes: got %s", got)
	}
	thing := ours.ResourceSchemas["fixture_thing"]
	if thing == nil || thing.Version != 1 {
		t.Fatalf("resource fixture_thing: got %+v, want version 1", thing)
	}
	if got := mustJSON(t, thing.Block.Attributes["rules"]); got != `{"nested_type":{"attributes":{"cidr":{"type":"string","description_kind":"plain","optional":true},"port":{"type":"number","description":"Port.","description_kind":"plain","required":true}},"nesting_mode":"list"},"description_kind":"plain","optional":true}` {
		t.Errorf("list nested attribute rules: got %s", got)
	}
	if got := mustJSON(t, thing.Block.NestedBlocks["empty"]); got != `{"nesting_mode":"single","block":{"description_kind":"plain"}}` {
		t.Errorf("empty single nested block: got %s", got)
	}

	t.Run("terraform", func(t *testing.T) {
		want := terraformSchema(t, terraformCLI(t), filepath.Dir(bin), "example/fixture")
		assertSameAsTerraform(t, want, ours)
	})
}

// terraformCLI returns the Terraform 1.5.7 CLI named by
// TF_ACC_TERRAFORM_PATH, or skips the test.
func terraformCLI(t *testing.T) string {
	t.Helper()
	cli := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if cli == "" {
		t.Skip("TF_ACC_TERRAFORM_PATH is not set: no Terraform CLI to compare with")
	}
	// OpenTofu prints a schema of its own (other registry, extra fields);
	// tfplugindocs follows Terraform's, so only Terraform is compared with.
	out, err := exec.CommandContext(t.Context(), cli, "version").Output()
	if err != nil {
		t.Fatalf("%s version: %v", cli, err)
	}
	if !strings.HasPrefix(string(out), "Terraform v") {
		t.Skipf("%s is not Terraform; the comparison runs under the Terraform CLI", cli)
	}
	return cli
}

// terraformSchema has Terraform print the schemas of the provider with the
// given source address ("owner/type"), found in binDir through
// dev_overrides, which spares `terraform init`.
func terraformSchema(t *testing.T, cli, binDir, source string) *tfjson.ProviderSchema {
	t.Helper()
	ws, err := clirun.NewWorkspace(t.TempDir(), cli, map[string]string{source: binDir})
	if err != nil {
		t.Fatal(err)
	}
	// Logs would only slow the provider down (see internal/pluginserver).
	ws.Unsetenv("TF_LOG*", "TF_ACC_LOG_PATH")
	config := `terraform {
  required_providers {
    ` + path.Base(source) + ` = { source = "` + source + `" }
  }
}
`
	if err := ws.WriteFile("main.tf", config); err != nil {
		t.Fatal(err)
	}
	res, err := ws.Run(t.Context(), "providers", "schema", "-json")
	if err != nil {
		t.Fatal(err)
	}
	var schemas tfjson.ProviderSchemas
	if err := json.Unmarshal([]byte(res.Stdout), &schemas); err != nil {
		t.Fatalf("decoding the output of terraform providers schema -json: %v\n%s", err, res.Stdout)
	}
	ps := schemas.Schemas["registry.terraform.io/"+source]
	if ps == nil {
		t.Fatalf("terraform printed no schemas for %s:\n%s", source, res.Stdout)
	}
	return ps
}

// assertSameAsTerraform compares ours with Terraform 1.5.7's schemas,
// leaving out the kinds of schema that version does not know. Write-only
// attributes, which it does not know either, are kept: the compared
// providers have none.
func assertSameAsTerraform(t *testing.T, terraform, ours *tfjson.ProviderSchema) {
	t.Helper()
	known := *ours
	known.ActionSchemas = nil
	known.EphemeralResourceSchemas = nil
	known.ListResourceSchemas = nil
	known.Functions = nil
	known.ResourceIdentitySchemas = nil
	if diff := cmp.Diff(mustJSONIndent(t, terraform), mustJSONIndent(t, &known)); diff != "" {
		t.Errorf("schemas differ from Terraform's (-terraform +ours):\n%s", diff)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// mustJSONIndent renders v one field a line, for readable diffs. Map keys
// come out sorted, so equal values give equal text.
func mustJSONIndent(t *testing.T, v any) string {
	t.Helper()
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
