package provider

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/terraform-plugin-framework/action"
	"github.com/hashicorp/terraform-plugin-framework/provider"
)

// TestActionExamples checks the examples that use actions against the
// action schemas, since no Terraform that runs actions (1.14 or later) can
// validate them here: every action block names an action of this provider,
// sets every required argument and no unknown one in its config block, and
// every action_trigger uses known events and refers to declared actions.
func TestActionExamples(t *testing.T) {
	ctx := context.Background()
	p := New("test")().(provider.ProviderWithActions)
	schemas := map[string]map[string]bool{} // action type => argument => required
	for _, newAction := range p.Actions(ctx) {
		a := newAction()
		var meta action.MetadataResponse
		a.Metadata(ctx, action.MetadataRequest{ProviderTypeName: "keymint"}, &meta)
		var s action.SchemaResponse
		a.Schema(ctx, action.SchemaRequest{}, &s)
		args := map[string]bool{}
		for name, attr := range s.Schema.Attributes {
			args[name] = attr.IsRequired()
		}
		schemas[meta.TypeName] = args
	}

	files, err := filepath.Glob("../../examples/*/*/*.tf")
	if err != nil {
		t.Fatal(err)
	}
	more, _ := filepath.Glob("../../examples/*/*.tf")
	files = append(files, more...)
	checked := 0
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		f, diags := hclsyntax.ParseConfig(src, file, hcl.InitialPos)
		if diags.HasErrors() {
			t.Errorf("%s: %v", file, diags)
			continue
		}
		body := f.Body.(*hclsyntax.Body)
		declared := map[string]bool{}
		for _, b := range body.Blocks {
			if b.Type != "action" {
				continue
			}
			checked++
			typ, name := b.Labels[0], b.Labels[1]
			declared[typ+"."+name] = true
			args, ok := schemas[typ]
			if !ok {
				t.Errorf("%s: action %q is not an action of this provider", file, typ)
				continue
			}
			var config *hclsyntax.Body
			for _, inner := range b.Body.Blocks {
				if inner.Type == "config" {
					config = inner.Body
				}
			}
			if config == nil {
				t.Errorf("%s: action %s.%s has no config block", file, typ, name)
				continue
			}
			for arg := range config.Attributes {
				if _, ok := args[arg]; !ok {
					t.Errorf("%s: action %s.%s sets %q, which %s does not have", file, typ, name, arg, typ)
				}
			}
			for arg, required := range args {
				if _, set := config.Attributes[arg]; required && !set {
					t.Errorf("%s: action %s.%s does not set the required %q", file, typ, name, arg)
				}
			}
		}
		for _, trigger := range actionTriggers(body) {
			checked++
			for _, ev := range traversals(t, file, trigger.Attributes["events"]) {
				if !slices.Contains([]string{"before_create", "after_create", "before_update", "after_update"}, ev) {
					t.Errorf("%s: action_trigger event %q does not exist", file, ev)
				}
			}
			for _, ref := range traversals(t, file, trigger.Attributes["actions"]) {
				if !declared[strings.TrimPrefix(ref, "action.")] {
					t.Errorf("%s: action_trigger refers to %s, which the file does not declare", file, ref)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no example uses an action: nothing was checked")
	}
}

// actionTriggers returns the action_trigger blocks of the resources' lifecycles.
func actionTriggers(body *hclsyntax.Body) []*hclsyntax.Body {
	var out []*hclsyntax.Body
	for _, r := range body.Blocks {
		if r.Type != "resource" {
			continue
		}
		for _, lc := range r.Body.Blocks {
			if lc.Type != "lifecycle" {
				continue
			}
			for _, at := range lc.Body.Blocks {
				if at.Type == "action_trigger" {
					out = append(out, at.Body)
				}
			}
		}
	}
	return out
}

// traversals returns the references of a list expression such as
// [after_create] or [action.keymint_license_reset.x], as dotted strings.
func traversals(t *testing.T, file string, attr *hclsyntax.Attribute) []string {
	t.Helper()
	if attr == nil {
		t.Errorf("%s: an action_trigger lacks events or actions", file)
		return nil
	}
	tuple, ok := attr.Expr.(*hclsyntax.TupleConsExpr)
	if !ok {
		t.Errorf("%s: %s of an action_trigger is not a list", file, attr.Name)
		return nil
	}
	var out []string
	for _, e := range tuple.Exprs {
		st, ok := e.(*hclsyntax.ScopeTraversalExpr)
		if !ok {
			t.Errorf("%s: %s of an action_trigger holds something other than a reference", file, attr.Name)
			continue
		}
		parts := []string{st.Traversal.RootName()}
		for _, step := range st.Traversal[1:] {
			if a, ok := step.(hcl.TraverseAttr); ok {
				parts = append(parts, a.Name)
			}
		}
		out = append(out, strings.Join(parts, "."))
	}
	return out
}
