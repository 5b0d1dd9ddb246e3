package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// The pinned CLIs are built from source into the tools directory, once, as
// TOOLS_DIR/terraform-<version>/terraform and TOOLS_DIR/tofu-<version>/tofu:
// the acceptance tests need an absolute path (TF_ACC_TERRAFORM_PATH), and
// the directory outlives `git clean` and is shared by clones.
//
// Terraform's version is the one tools/terraform.mod requires (its tool
// directive); OpenTofu cannot be a tool directive, because its go.mod has
// replace directives, which hold only when it is the main module, so its
// version is tofuVersion.
const (
	terraformModule  = "github.com/hashicorp/terraform"
	terraformModfile = "tools/terraform.mod"
	tofuModule       = "github.com/opentofu/opentofu"
	tofuVersion      = "1.12.6"
)

// terraformLicenseChange is the first Terraform release under the BSL:
// nothing here may build or run it.
const terraformLicenseChange = "1.6.0"

// goTools are the tools run with `go tool -modfile=tools/NAME.mod NAME`
// (their versions are in those files; Go's build cache keeps the builds),
// and the arguments that make each print its version.
var goTools = []struct {
	name        string
	versionArgs []string
}{
	{"golangci-lint", []string{"version"}},
	{"actionlint", []string{"-version"}},
	{"tfplugindocs", []string{"--version"}},
	{"goreleaser", []string{"--version"}},
}

// toolsDir returns TOOLS_DIR, or terraform-provider-keymint under
// XDG_CACHE_HOME, or under ~/.cache.
func toolsDir() (string, error) {
	if d := os.Getenv("TOOLS_DIR"); d != "" {
		return filepath.Abs(d)
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("no tools directory: set TOOLS_DIR (%w)", err)
		}
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "terraform-provider-keymint"), nil
}

// cliName returns the product name a CLI's `version` command starts with.
func cliName(cli string) string {
	if cli == "tofu" {
		return "OpenTofu"
	}
	return "Terraform"
}

// pinnedVersion returns the version of the pinned CLI, without a "v".
func pinnedVersion(root, cli string) (string, error) {
	if cli == "tofu" {
		return tofuVersion, nil
	}
	v, err := modfileRequirement(filepath.Join(root, terraformModfile), terraformModule)
	if err != nil {
		return "", err
	}
	if !versionBefore(v, terraformLicenseChange) {
		return "", fmt.Errorf("%s requires Terraform %s; only releases before %s are open source, and the tests need one of them", terraformModfile, v, terraformLicenseChange)
	}
	return v, nil
}

// modfileRequirement returns the version (without "v") at which a modfile
// requires module, checking that module is also one of its tools.
func modfileRequirement(modfile, module string) (string, error) {
	out, err := exec.Command("go", "mod", "edit", "-json", "-modfile="+modfile).Output()
	if err != nil {
		return "", fmt.Errorf("reading %s: %w%s", modfile, err, stderrOf(err))
	}
	var mod struct {
		Require []struct{ Path, Version string }
		Tool    []struct{ Path string }
	}
	if err := json.Unmarshal(out, &mod); err != nil {
		return "", fmt.Errorf("reading %s: %w", modfile, err)
	}
	isTool := false
	for _, t := range mod.Tool {
		isTool = isTool || t.Path == module
	}
	for _, r := range mod.Require {
		if r.Path == module && isTool {
			return strings.TrimPrefix(r.Version, "v"), nil
		}
	}
	return "", fmt.Errorf("%s has no tool directive and requirement for %s", modfile, module)
}

// versionBefore reports whether the release version v (such as "1.5.7")
// comes before limit; anything that is not MAJOR.MINOR.PATCH does not.
func versionBefore(v, limit string) bool {
	a, b := versionParts(v), versionParts(limit)
	if a == nil || b == nil {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

func versionParts(v string) []int {
	fields := strings.Split(v, ".")
	if len(fields) != 3 {
		return nil
	}
	parts := make([]int, 3)
	for i, f := range fields {
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 {
			return nil
		}
		parts[i] = n
	}
	return parts
}

// pinnedCLI returns the absolute path of the pinned CLI ("terraform" or
// "tofu"), building it first when it is missing or reports another version.
func pinnedCLI(ctx context.Context, root, cli string) (string, error) {
	version, err := pinnedVersion(root, cli)
	if err != nil {
		return "", err
	}
	dir, err := toolsDir()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, cli+"-"+version, cli)
	want := cliName(cli) + " v" + version
	if got, err := cliVersion(ctx, path); err == nil && isVersion(got, want) {
		return path, nil
	} else if err == nil {
		fmt.Fprintf(os.Stderr, "%s reports %q, not %q: building it again\n", path, got, want)
	} else if !errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(os.Stderr, "%s: %v: building it again\n", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	tmp := fmt.Sprintf("%s.tmp%d", path, os.Getpid())
	if cli == "tofu" {
		fmt.Printf("Building OpenTofu %s from source into %s (several minutes, once)\n", version, filepath.Dir(path))
		err = buildTofu(ctx, version, tmp)
	} else {
		fmt.Printf("Building Terraform %s from source into %s (a few minutes, once)\n", version, filepath.Dir(path))
		err = run(ctx, root, nil, "go", "build", "-modfile="+filepath.Join(root, terraformModfile), "-o", tmp, terraformModule)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return "", err
	}
	got, err := cliVersion(ctx, tmp)
	if err == nil && !isVersion(got, want) {
		err = fmt.Errorf("the %s just built reports %q, not %q", cli, got, want)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return "", err
	}
	return path, os.Rename(tmp, path)
}

// cliVersion returns the line of `CLI version` that names the CLI and its
// version, such as "Terraform v1.5.7".
func cliVersion(ctx context.Context, path string) (string, error) {
	if _, err := os.Stat(path); err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, path, "version")
	// No warning about a missing CLI configuration file, no update check.
	cmd.Env = envWith(envWithout(os.Environ(), "TF_CLI_CONFIG_FILE"), "CHECKPOINT_DISABLE=1")
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s version: %w%s", path, err, stderrOf(err))
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "Terraform v") || strings.HasPrefix(line, "OpenTofu v") {
			return strings.TrimSpace(line), nil
		}
	}
	return "", fmt.Errorf("%s version names no version:\n%s", path, out)
}

// isVersion reports whether the version line of a CLI names want. OpenTofu
// built without its release flags calls itself "vX.Y.Z-dev".
func isVersion(got, want string) bool {
	return got == want || got == want+"-dev"
}

// buildTofu builds OpenTofu's cmd/tofu into out. `go install` refuses
// OpenTofu (its go.mod has replace directives), so the module is downloaded
// through the module proxy, copied somewhere writable and built there, as
// its main module.
func buildTofu(ctx context.Context, version, out string) error {
	src, err := os.MkdirTemp("", "opentofu-src.")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(src) }()
	// Downloaded from an empty directory, so that no go.mod is touched.
	var stdout bytes.Buffer
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", tofuModule+"@v"+version)
	cmd.Dir, cmd.Stdout, cmd.Stderr = src, &stdout, os.Stderr
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go mod download %s@v%s: %w", tofuModule, version, err)
	}
	var mod struct{ Dir, Error string }
	if err := json.Unmarshal(stdout.Bytes(), &mod); err != nil {
		return fmt.Errorf("go mod download %s@v%s: %w", tofuModule, version, err)
	}
	if mod.Dir == "" {
		return fmt.Errorf("could not download OpenTofu %s: %s", version, mod.Error)
	}
	// The module cache is read-only; CopyFS makes the copy writable.
	if err := os.CopyFS(src, os.DirFS(mod.Dir)); err != nil {
		return err
	}
	abs, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	// The flag OpenTofu's release build sets, so that it reports vX.Y.Z.
	ldflags := "-ldflags=-X " + tofuModule + "/version.dev=no"
	return run(ctx, src, envWith(os.Environ(), "GOWORK=off"), "go", "build", ldflags, "-o", abs, "./cmd/tofu")
}

// stderrOf returns the stderr an *exec.ExitError captured, on a new line.
func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(ee.Stderr) > 0 {
		return "\n" + strings.TrimSpace(string(ee.Stderr))
	}
	return ""
}
