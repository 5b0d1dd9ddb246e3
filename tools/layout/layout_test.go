// Package layout checks the repository's boundaries on what each program
// is built from, as `go list -deps` sees them (every package, imported
// directly or not): the provider binary carries nothing of tools/ or of the
// local server, the API client no Terraform package, and keymint-local
// neither Terraform packages nor tools/. The linter's depguard rules
// (.golangci.yml) catch a forbidden import where it is written; these tests
// catch one that arrives through another package.
package layout

import (
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/keymint-dev/terraform-provider-keymint"

// terraformPlugin starts the paths of the Terraform plugin SDK's packages:
// terraform-plugin-framework, -go, -log, -testing and the others.
const terraformPlugin = "github.com/hashicorp/terraform-plugin-"

func TestBoundaries(t *testing.T) {
	for _, c := range []struct {
		name string
		pkg  string
		// forbidden starts the paths of packages pkg must not be built with.
		forbidden []string
		// needs is a package pkg is built with, so that an empty or wrong
		// listing cannot pass.
		needs string
	}{
		{
			name:      "the provider binary carries nothing of tools/ or of the local server",
			pkg:       module,
			forbidden: []string{module + "/tools/", module + "/internal/localserver", module + "/cmd/"},
			needs:     module + "/internal/provider",
		},
		{
			name:      "the API client is free of Terraform",
			pkg:       module + "/internal/keymint",
			forbidden: []string{terraformPlugin, module + "/tools/", module + "/internal/localserver"},
			needs:     "net/http",
		},
		{
			name:      "keymint-local is free of Terraform and of tools/",
			pkg:       module + "/cmd/keymint-local",
			forbidden: []string{terraformPlugin, module + "/tools/", module + "/internal/provider"},
			needs:     module + "/internal/localserver",
		},
	} {
		t.Run(c.pkg, func(t *testing.T) {
			deps := goListDeps(t, c.pkg)
			if !slices.Contains(deps, c.needs) {
				t.Fatalf("go list -deps %s does not list %s, which it is built with: %q", c.pkg, c.needs, deps)
			}
			for _, d := range deps {
				for _, f := range c.forbidden {
					if d == strings.TrimSuffix(f, "/") || strings.HasPrefix(d, f) {
						t.Errorf("%s: %s is built with %s (%s…)", c.name, c.pkg, d, f)
					}
				}
			}
		})
	}
}

// goListDeps lists the packages pkg is built with, itself included, for
// the platform the tests run on (test files do not count).
func goListDeps(t *testing.T, pkg string) []string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is not on PATH: %v", err)
	}
	cmd := exec.CommandContext(t.Context(), goTool, "list", "-deps", pkg)
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("go list -deps %s: %v\n%s", pkg, err, stderr)
	}
	return strings.Fields(string(out))
}
