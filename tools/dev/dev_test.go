package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/keymint-dev/terraform-provider-keymint/tools/acctest"
	"github.com/keymint-dev/terraform-provider-keymint/tools/clirun"
)

func TestTestEnv(t *testing.T) {
	config := filepath.Join(t.TempDir(), "cli.tfrc")
	if err := os.WriteFile(config, []byte("# empty\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	live := []string{}
	for _, v := range acctest.LiveVariables {
		live = append(live, v+"=live-"+v)
	}
	base := append([]string{"HOME=/home/x", "TF_ACC=0", "TF_ACC_TERRAFORM_PATH=/old"}, live...)

	t.Run("offline removes the live variables", func(t *testing.T) {
		env := testEnv(base, "terraform", "/cli/terraform", true)
		for _, v := range acctest.LiveVariables {
			if got := envValue(env, v); got != "" {
				t.Errorf("%s = %q, want it removed", v, got)
			}
		}
		for name, want := range map[string]string{"HOME": "/home/x", "TF_ACC": "1", "TF_ACC_TERRAFORM_PATH": "/cli/terraform"} {
			if got := envValue(env, name); got != want {
				t.Errorf("%s = %q, want %q", name, got, want)
			}
		}
		if n := len(slices.DeleteFunc(slices.Clone(env), func(kv string) bool { return !strings.HasPrefix(kv, "TF_ACC=") })); n != 1 {
			t.Errorf("TF_ACC is set %d times in %q", n, env)
		}
		if envValue(env, "TF_ACC_PROVIDER_NAMESPACE") != "" || envValue(env, "TF_ACC_PROVIDER_HOST") != "" {
			t.Errorf("Terraform's environment names an OpenTofu provider address: %q", env)
		}
	})
	t.Run("live keeps them", func(t *testing.T) {
		env := testEnv(base, "terraform", "/cli/terraform", false)
		for _, v := range acctest.LiveVariables {
			if got := envValue(env, v); got != "live-"+v {
				t.Errorf("%s = %q, want it kept", v, got)
			}
		}
	})
	t.Run("tofu", func(t *testing.T) {
		env := testEnv(base, "tofu", "/cli/tofu", true)
		if envValue(env, "TF_ACC_PROVIDER_NAMESPACE") != "hashicorp" || envValue(env, "TF_ACC_PROVIDER_HOST") != "registry.opentofu.org" {
			t.Errorf("OpenTofu's environment lacks the provider address terraform-plugin-testing needs: %q", env)
		}
	})
	t.Run("a CLI configuration file that exists is kept", func(t *testing.T) {
		env := testEnv(append(base, "TF_CLI_CONFIG_FILE="+config), "terraform", "/cli/terraform", true)
		if got := envValue(env, "TF_CLI_CONFIG_FILE"); got != config {
			t.Errorf("TF_CLI_CONFIG_FILE = %q, want %q", got, config)
		}
	})
	t.Run("a missing CLI configuration file is unset", func(t *testing.T) {
		env := testEnv(append(base, "TF_CLI_CONFIG_FILE="+config+".missing"), "terraform", "/cli/terraform", true)
		if slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "TF_CLI_CONFIG_FILE=") }) {
			t.Errorf("TF_CLI_CONFIG_FILE names a missing file and is still set: %q", env)
		}
	})
}

func TestTestCLIPrefersTheUsersPath(t *testing.T) {
	t.Setenv(envTerraformPath, "/opt/my/terraform")
	// A tools directory that holds nothing: a build would start there.
	t.Setenv("TOOLS_DIR", t.TempDir())
	got, err := (&dev{root: t.TempDir(), cli: "terraform"}).testCLI(context.Background())
	if err != nil || got != "/opt/my/terraform" {
		t.Fatalf("testCLI() = %q, %v; want the user's TF_ACC_TERRAFORM_PATH", got, err)
	}
}

func TestTestaccNamesTheMissingLiveVariables(t *testing.T) {
	env := []string{acctest.LiveVariables[0] + "=set"}
	err := (&dev{root: t.TempDir(), cli: "terraform"}).testacc(context.Background(), env, nil)
	if err == nil {
		t.Fatal("testacc ran without the live variables")
	}
	for i, v := range acctest.LiveVariables {
		if named := strings.Contains(err.Error(), v); named != (i > 0) {
			t.Errorf("the error names %s: %v, want %v: %v", v, named, i > 0, err)
		}
	}
}

func TestPinnedTerraformIsOpenSource(t *testing.T) {
	root, err := clirun.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	v, err := pinnedVersion(root, "terraform")
	if err != nil {
		t.Fatal(err)
	}
	if !versionBefore(v, terraformLicenseChange) {
		t.Fatalf("%s pins Terraform %s", terraformModfile, v)
	}

	// A modfile that asks for a later release is refused.
	other := t.TempDir()
	data, err := os.ReadFile(filepath.Join(root, terraformModfile))
	if err != nil {
		t.Fatal(err)
	}
	data = []byte(strings.Replace(string(data), terraformModule+" v"+v, terraformModule+" v1.6.0", 1))
	if err := os.MkdirAll(filepath.Join(other, "tools"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other, terraformModfile), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if v, err := pinnedVersion(other, "terraform"); err == nil || !strings.Contains(err.Error(), "open source") {
		t.Fatalf("a modfile requiring Terraform 1.6.0: pinnedVersion = %q, %v; want it refused", v, err)
	}
}

func TestVersionBefore(t *testing.T) {
	for _, tc := range []struct {
		v, limit string
		want     bool
	}{
		{"1.5.7", "1.6.0", true},
		{"1.5.99", "1.6.0", true},
		{"0.15.5", "1.6.0", true},
		{"1.6.0", "1.6.0", false},
		{"1.10.0", "1.6.0", false},
		{"2.0.0", "1.6.0", false},
		{"1.6.0-alpha1", "1.6.0", false},
		{"", "1.6.0", false},
	} {
		if got := versionBefore(tc.v, tc.limit); got != tc.want {
			t.Errorf("versionBefore(%q, %q) = %v, want %v", tc.v, tc.limit, got, tc.want)
		}
	}
}

// TestCLIVersion reads the version of the CLI the tests run, with a CLI
// configuration file that does not exist, which makes the CLI print a
// warning before its version.
func TestCLIVersion(t *testing.T) {
	cli := os.Getenv(envTerraformPath)
	if cli == "" {
		t.Skip("TF_ACC_TERRAFORM_PATH is not set; run with `make test`")
	}
	t.Setenv("TF_CLI_CONFIG_FILE", filepath.Join(t.TempDir(), "missing.tfrc"))
	got, err := cliVersion(context.Background(), cli)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^(Terraform|OpenTofu) v[0-9]+\.[0-9]+\.[0-9]+(-dev)?$`).MatchString(got) {
		t.Fatalf("cliVersion(%s) = %q", cli, got)
	}
	if _, err := cliVersion(context.Background(), filepath.Join(t.TempDir(), "terraform")); !os.IsNotExist(err) {
		t.Fatalf("cliVersion of a missing file: %v, want a not-exist error", err)
	}
}

func TestCopyManifest(t *testing.T) {
	dir := t.TempDir()
	manifest := filepath.Join(dir, manifestFile)
	content := `{"version": 1, "metadata": {"protocol_versions": ["6.0"]}}` + "\n"
	if err := os.WriteFile(manifest, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	dist := filepath.Join(dir, "dist")
	if err := os.Mkdir(dist, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, _, err := copyManifest(manifest, dist); err == nil {
		t.Fatal("copyManifest succeeded without dist/metadata.json")
	}
	// goreleaser writes metadata.json on one line, fields in its own order.
	meta := `{"project_name":"terraform-provider-keymint","tag":"v0.1.0","previous_tag":"","version":"0.1.1-snapshot.abc1234","commit":"abc1234","date":"2026-01-01T00:00:00Z","runtime":{"goos":"linux","goarch":"amd64"}}`
	if err := os.WriteFile(filepath.Join(dist, "metadata.json"), []byte(meta), 0o644); err != nil {
		t.Fatal(err)
	}
	name, version, err := copyManifest(manifest, dist)
	if err != nil {
		t.Fatal(err)
	}
	if want := "terraform-provider-keymint_0.1.1-snapshot.abc1234_manifest.json"; name != want || version != "0.1.1-snapshot.abc1234" {
		t.Fatalf("copyManifest = %q, %q; want %q", name, version, want)
	}
	got, err := os.ReadFile(filepath.Join(dist, name))
	if err != nil || string(got) != content {
		t.Fatalf("dist/%s = %q, %v; want the manifest %q", name, got, err, content)
	}

	if err := os.WriteFile(filepath.Join(dist, "metadata.json"), []byte(`{"project_name":"p","version":"../1"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if name, _, err := copyManifest(manifest, dist); err == nil {
		t.Fatalf("a version with a path separator was accepted: %s", name)
	}
}
