//go:build unix

package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keymint-dev/terraform-provider-keymint/tools/clirun"
)

// The examples that the docs show are run as they are, under the real CLI,
// so that what users copy works. (The action example needs Terraform 1.14,
// which cannot be built here; the action is tested over the plugin protocol
// in package provider.)

// TestExamplesFormatted fails when examples/ is not formatted as the CLI's
// fmt would write it.
func TestExamplesFormatted(t *testing.T) {
	root, err := clirun.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Getenv("TF_ACC_TERRAFORM_PATH"), "fmt", "-check", "-recursive", "-diff", "-no-color", "examples")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CHECKPOINT_DISABLE=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("examples/ is not formatted (%v): run 'make fmt'\n%s", err, out)
	}
}

// usesActions matches the blocks that only Terraform 1.14 and later parse.
var usesActions = regexp.MustCompile(`(?m)^\s*(action\s+"|action_trigger\s*\{)`)

// TestExamplesValidate validates every directory under examples/ that holds
// .tf or .tf.json files with the CLI, against the provider built from this
// tree (through dev_overrides: no registry, no init), each in a copy in a
// temporary directory. The docs' snippets (resources/, data-sources/,
// actions/) leave the terraform block to the provider page's example, as
// tfplugindocs examples do: a directory that declares no required_providers
// is validated with examples/provider/provider.tf beside it. Directories
// that use actions are skipped, because neither Terraform 1.5.7 nor any
// OpenTofu release parses them (they need Terraform 1.14);
// TestActionExamples in package provider checks them against the action
// schemas instead. Warnings other than the one about dev_overrides are
// logged.
func TestExamplesValidate(t *testing.T) {
	root, err := clirun.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	err = filepath.WalkDir(filepath.Join(root, "examples"), func(path string, d os.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && d.Name() == ".terraform":
			return filepath.SkipDir
		case !d.IsDir() && (strings.HasSuffix(path, ".tf") || strings.HasSuffix(path, ".tf.json")):
			if dir, _ := filepath.Rel(root, filepath.Dir(path)); !slices.Contains(dirs, dir) {
				dirs = append(dirs, dir)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	providerExample, err := os.ReadFile(filepath.Join(root, "examples", "provider", "provider.tf"))
	if err != nil {
		t.Fatal(err)
	}
	var validated atomic.Int32
	t.Cleanup(func() {
		if validated.Load() == 0 {
			t.Error("no example directory was validated")
		} else {
			t.Logf("%d of %d example directories valid under %s", validated.Load(), len(dirs), os.Getenv("TF_ACC_TERRAFORM_PATH"))
		}
	})
	for _, dir := range dirs {
		t.Run(filepath.ToSlash(strings.TrimPrefix(dir, "examples"+string(filepath.Separator))), func(t *testing.T) {
			t.Parallel()
			if validateExample(t, root, dir, providerExample) {
				validated.Add(1)
			}
		})
	}
}

// validateExample validates one directory of examples/; it reports whether
// the CLI validated it (false when skipped).
func validateExample(t *testing.T, root, dir string, providerExample []byte) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ws, err := clirun.NewWorkspace(t.TempDir(), os.Getenv("TF_ACC_TERRAFORM_PATH"),
		map[string]string{"keymint-dev/keymint": providerDir})
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(root, dir, "*.tf"))
	if err != nil {
		t.Fatal(err)
	}
	jsonFiles, _ := filepath.Glob(filepath.Join(root, dir, "*.tf.json"))
	declaresProviders := false
	for _, f := range append(files, jsonFiles...) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(f, ".tf") && usesActions.Match(data) {
			t.Skipf("%s uses action blocks or action_trigger, which need Terraform 1.14: TestActionExamples "+
				"(internal/provider/examples_test.go) checks it against the action schemas instead", f)
		}
		declaresProviders = declaresProviders || strings.Contains(string(data), "required_providers")
		if err := ws.WriteFile(filepath.Base(f), string(data)); err != nil {
			t.Fatal(err)
		}
	}
	if !declaresProviders {
		t.Log("no required_providers: validated with examples/provider/provider.tf")
		if err := ws.WriteFile("zz_examples_provider.tf", string(providerExample)); err != nil {
			t.Fatal(err)
		}
	}
	res, err := ws.Run(ctx, "validate", "-no-color")
	if err != nil {
		t.Fatalf("%s is not valid: %v\n%s", dir, err, res.Stdout)
	}
	out := res.Stdout + res.Stderr
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "Warning: ") && !strings.Contains(line, "Provider development overrides") {
			t.Logf("%s validates with warnings:\n%s", dir, out)
			break
		}
	}
	return true
}

// useExample copies the .tf files of an examples/ directory into the
// workspace; with requiredProviders, it adds the terraform block that
// examples of a single type leave out.
func (e *env) useExample(dir string, requiredProviders bool) {
	e.t.Helper()
	root, err := clirun.ModuleRoot()
	if err != nil {
		e.t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(root, "examples", dir, "*.tf"))
	if err != nil || len(files) == 0 {
		e.t.Fatalf("no example in examples/%s: %v", dir, err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			e.t.Fatal(err)
		}
		if err := e.ws.WriteFile(filepath.Base(f), string(data)); err != nil {
			e.t.Fatal(err)
		}
	}
	if requiredProviders {
		if err := e.ws.WriteFile("versions.tf", `terraform {
  required_providers {
    keymint = { source = "keymint-dev/keymint" }
  }
}
`); err != nil {
			e.t.Fatal(err)
		}
	}
}

// expectHosts fails unless the server holds seats for exactly want.
func (e *env) expectHosts(step string, want ...string) {
	e.t.Helper()
	slices.Sort(want)
	if got := e.hosts(); !slices.Equal(got, want) {
		e.t.Fatalf("%s: the server holds seats for %q, want %q", step, got, want)
	}
}

func apply(args ...string) []string {
	return append([]string{"apply", "-auto-approve", "-input=false", "-no-color"}, args...)
}

func TestExampleFleetForEach(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	e := newEnv(t, 5)
	e.useExample("scenarios/fleet-for-each", false)

	e.run(ctx, apply()...)
	e.expectHosts("apply", "web-1", "web-2", "db-1")
	e.expectPlanEmpty(ctx)

	// A host leaving the map frees its seat.
	e.run(ctx, apply(`-var=hosts={"web-1"="frontend","db-1"="database"}`)...)
	e.expectHosts("a host removed", "web-1", "db-1")

	e.run(ctx, "destroy", "-auto-approve", "-input=false", "-no-color")
	e.expectHosts("destroy")
}

func TestExampleMachineFreesSeat(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	e := newEnv(t, 2)
	e.useExample("scenarios/machine-frees-seat", false)

	e.run(ctx, apply()...)
	first := e.hosts()
	if len(first) != 2 {
		t.Fatalf("after apply the server holds %q, want the two machines' IDs", first)
	}
	// Replacing a machine frees its seat before its replacement takes one:
	// the license has no spare seat, so the apply only works in that order.
	e.run(ctx, apply("-replace=terraform_data.worker[\"worker-a\"]")...)
	second := e.hosts()
	if len(second) != 2 || slices.Equal(first, second) {
		t.Fatalf("after replacing a machine the server holds %q (before: %q), want a new ID in place of the old", second, first)
	}
	// A third worker finds no seat: the plan stops before any machine is
	// created.
	res, err := e.ws.Run(ctx, apply(`-var=workers=["worker-a","worker-b","worker-c"]`)...)
	if err == nil || !strings.Contains(res.Stderr, "1 new workers need one") {
		t.Fatalf("a third worker on a full license: err = %v, want the capacity precondition to stop the plan\n%s", err, res.Stderr)
	}
	if out := e.run(ctx, "state", "list").Stdout; strings.Contains(out, "worker-c") {
		t.Fatalf("the refused plan created a machine:\n%s", out)
	}
	if got := e.hosts(); !slices.Equal(got, second) {
		t.Fatalf("after the refused plan the server holds %q, want %q", got, second)
	}
	e.run(ctx, "destroy", "-auto-approve", "-input=false", "-no-color")
	e.expectHosts("destroy")
}

func TestExampleCapacityCheck(t *testing.T) {
	t.Parallel()

	t.Run("too few seats", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		e := newEnv(t, 2)
		e.useExample("scenarios/capacity-check", false)
		res, err := e.ws.Run(ctx, apply()...)
		if err == nil {
			t.Fatal("apply of 3 hosts on 2 seats succeeded")
		}
		out := strings.Join(strings.Fields(res.Stdout+res.Stderr), " ")
		if want := "The license has 2 free seats, but 3 hosts need one."; !strings.Contains(out, want) {
			t.Fatalf("the error does not say %q:\n%s", want, res.Stderr)
		}
		e.expectHosts("refused plan")

		// Two hosts fit; then a third fails while the first two keep their seats.
		e.run(ctx, apply(`-var=hosts=["build-1","build-2"]`)...)
		e.expectHosts("two hosts", "build-1", "build-2")
		e.expectPlanEmptyWith(ctx, `-var=hosts=["build-1","build-2"]`)
	})
	t.Run("unlimited", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		e := newEnv(t, 0)
		e.useExample("scenarios/capacity-check", false)
		e.run(ctx, apply()...)
		e.expectHosts("apply", "build-1", "build-2", "build-3")
		// The data source and the refresh of the activations share one read.
		e.srv.ResetCalls()
		e.expectPlanEmpty(ctx)
		if got := e.srv.TotalCalls(); got != 1 {
			t.Errorf("a plan of the data source and 3 activations made %d API calls (%v), want 1", got, e.srv.Calls())
		}
	})
	t.Run("blocked", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		e := newEnv(t, 5)
		if err := e.srv.SetBlocked(e.product, e.key, true); err != nil {
			t.Fatal(err)
		}
		e.useExample("scenarios/capacity-check", false)
		res, err := e.ws.Run(ctx, apply()...)
		if err == nil || !strings.Contains(res.Stderr, "The license key is blocked in KeyMint") {
			t.Fatalf("apply on a blocked key: err=%v\n%s", err, res.Stderr)
		}
	})
}

// TestExampleCIFleet runs the guide's CI fleet: a runner that died without
// deactivating itself is freed by the first apply; a runner that came and
// went between two runs makes the drift check exit 2; the fleet then shrinks,
// freeing the runner that left and the stray, while a developer's desktop on
// the same license keeps its seat throughout, destroy included.
func TestExampleCIFleet(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	e := newEnv(t, 4)
	for _, d := range []struct{ host, tag string }{{"desk-1", "desktop"}, {"runner-0", "ci"}} {
		if err := e.srv.ActivateDevice(e.product, e.key, d.host, d.tag, "10.0.0.9"); err != nil {
			t.Fatal(err)
		}
	}
	e.useExample("scenarios/ci-fleet", false)

	// 3 runners on a full license: they fit because runner-0 is freed first.
	out := e.run(ctx, apply()...)
	if !strings.Contains(out.Stdout, "runner_seats = 3") {
		t.Errorf("the output does not count 3 runners:\n%s", out.Stdout)
	}
	e.expectHosts("apply", "runner-1", "runner-2", "runner-3", "desk-1")
	e.expectPlanEmpty(ctx)

	e.srv.ResetCalls()
	res, err := e.ws.Run(ctx, "plan", "-input=false", "-detailed-exitcode", "-no-color")
	if err != nil || e.srv.TotalCalls() != 1 {
		code, _ := clirun.ExitCode(err)
		t.Errorf("a plan without drift: exit %d (%v), %d API calls (%v); want 0 and the one read\n%s", code, err, e.srv.TotalCalls(), e.srv.Calls(), res.Stderr)
	}
	if err := e.srv.DeactivateDevice(e.product, e.key, "runner-3"); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.ActivateDevice(e.product, e.key, "runner-9", "ci", "10.0.0.9"); err != nil {
		t.Fatal(err)
	}
	res, err = e.ws.Run(ctx, "plan", "-input=false", "-detailed-exitcode", "-no-color")
	if code, _ := clirun.ExitCode(err); code != 2 {
		t.Fatalf("the drift check exited %d, want 2:\n%s%s", code, res.Stdout, res.Stderr)
	}
	for _, want := range []string{`- "runner-9"`, `+ "runner-3"`} {
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("the drift plan does not show %s:\n%s", want, res.Stdout)
		}
	}

	// runner-2 scales in; runner-3, deactivated behind Terraform's back,
	// is still up and takes its seat again.
	shrunk := `-var=runners=["runner-1","runner-3"]`
	e.run(ctx, apply(shrunk)...)
	e.expectHosts("shrink", "runner-1", "runner-3", "desk-1")
	e.expectPlanEmptyWith(ctx, shrunk)

	e.run(ctx, "destroy", "-auto-approve", "-input=false", "-no-color", shrunk)
	e.expectHosts("destroy", "desk-1")
}

// TestExampleLicenseReset runs the keymint_license_reset example: raising
// fleet_generation resets the license, devices activated elsewhere
// included, and re-creates the fleet's activations in the same apply.
func TestExampleLicenseReset(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	e := newEnv(t, 3)
	if err := e.srv.ActivateDevice(e.product, e.key, "old-1", "", "10.0.0.9"); err != nil {
		t.Fatal(err)
	}
	e.useExample("resources/keymint_license_reset", true)

	e.run(ctx, apply()...)
	e.expectHosts("first apply", "web-1", "web-2")
	e.expectPlanEmpty(ctx)

	if err := e.srv.ActivateDevice(e.product, e.key, "stray", "", "10.0.0.9"); err != nil {
		t.Fatal(err)
	}
	e.expectPlanEmpty(ctx) // a device activated after the reset is not drift
	// replace_triggered_by destroys the fleet's activations first, which
	// frees their seats; the reset then frees the stray device.
	out := e.run(ctx, apply("-var=fleet_generation=2")...)
	if !strings.Contains(out.Stdout, "seats_freed_by_last_reset = 1") {
		t.Errorf("the reset did not report the stray device freed:\n%s", out.Stdout)
	}
	e.expectHosts("after the new generation", "web-1", "web-2")
	e.expectPlanEmptyWith(ctx, "-var=fleet_generation=2")

	e.run(ctx, "destroy", "-auto-approve", "-input=false", "-no-color", "-var=fleet_generation=2")
	e.expectHosts("destroy")
}

// expectPlanEmptyWith is expectPlanEmpty with extra plan arguments.
func (e *env) expectPlanEmptyWith(ctx context.Context, args ...string) {
	e.t.Helper()
	res, err := e.ws.Run(ctx, append([]string{"plan", "-input=false", "-detailed-exitcode", "-no-color"}, args...)...)
	if err != nil {
		code, _ := clirun.ExitCode(err)
		e.t.Fatalf("re-plan is not empty (exit %d):\n%s%s", code, res.Stdout, res.Stderr)
	}
}

// firstRelease is the version constraint every example puts on the
// provider: the 0.x releases from the first one on.
const firstRelease = `version = "~> 0.1"`

// TestExamplesConstrainVersions: every example that declares the provider
// pins it to the release series the docs describe, as users should, and
// every example that uses actions asks for the Terraform that runs them.
func TestExamplesConstrainVersions(t *testing.T) {
	root, err := clirun.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	entry := regexp.MustCompile(`keymint\s*=\s*\{[^}]*\}`)
	declared := 0
	err = filepath.WalkDir(filepath.Join(root, "examples"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".tf") {
			return err
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		text, rel := string(raw), strings.TrimPrefix(path, root+string(filepath.Separator))
		for _, m := range entry.FindAllString(text, -1) {
			if !strings.Contains(m, `source`) {
				continue
			}
			declared++
			if !strings.Contains(regexp.MustCompile(`\s+`).ReplaceAllString(m, " "), firstRelease) {
				t.Errorf("%s: the provider's required_providers entry has no %s:\n%s", rel, firstRelease, m)
			}
		}
		if usesActions.MatchString(text) && !strings.Contains(text, `required_version = ">= 1.14"`) {
			t.Errorf(`%s: uses actions, which need Terraform 1.14: add required_version = ">= 1.14" to its terraform block`, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if declared == 0 {
		t.Fatal("no example declares the provider; the test would prove nothing")
	}
}
