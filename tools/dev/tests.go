package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/keymint-dev/terraform-provider-keymint/internal/keymint"
	"github.com/keymint-dev/terraform-provider-keymint/tools/acctest"
)

// envTerraformPath names the CLI the acceptance tests run (an absolute
// path); one the user set wins over the pinned CLI, which is then not built.
const envTerraformPath = "TF_ACC_TERRAFORM_PATH"

// testCLI returns the CLI the tests run: TF_ACC_TERRAFORM_PATH when set,
// else the pinned one.
func (d *dev) testCLI(ctx context.Context) (string, error) {
	if p := os.Getenv(envTerraformPath); p != "" {
		return p, nil
	}
	return pinnedCLI(ctx, d.root, d.cli)
}

// testEnv returns the environment of the acceptance tests: base with
// TF_ACC=1 and the CLI's path, with what terraform-plugin-testing needs to
// name the in-process provider under OpenTofu, without a TF_CLI_CONFIG_FILE
// that names a missing file (the CLI would only warn about it), and, when
// offline, without the variables that would point the tests at a live
// server.
func testEnv(base []string, cli, cliPath string, offline bool) []string {
	env := base
	if offline {
		env = envWithout(env, acctest.LiveVariables...)
	}
	if f := envValue(env, "TF_CLI_CONFIG_FILE"); f != "" {
		if _, err := os.Stat(f); err != nil {
			env = envWithout(env, "TF_CLI_CONFIG_FILE")
		}
	}
	set := []string{"TF_ACC=1", envTerraformPath + "=" + cliPath}
	if cli == "tofu" {
		set = append(set, "TF_ACC_PROVIDER_NAMESPACE=hashicorp", "TF_ACC_PROVIDER_HOST=registry.opentofu.org")
	}
	return envWith(env, set...)
}

// testTimeout is go test's -timeout: TEST_TIMEOUT, or 30m.
func testTimeout() string { return cmp.Or(os.Getenv("TEST_TIMEOUT"), "30m") }

// goTest returns the arguments of `go test -count=1 -timeout T ARGS PKGS`.
func goTest(args []string, pkgs ...string) []string {
	return append(append([]string{"test", "-count=1", "-timeout", testTimeout()}, args...), pkgs...)
}

func cmdTest(ctx context.Context, d *dev, args []string) error {
	cliPath, err := d.testCLI(ctx)
	if err != nil {
		return err
	}
	env := testEnv(os.Environ(), d.cli, cliPath, true)
	step("race detector: client and server under concurrent load")
	if err := run(ctx, d.root, env, "go", "test", "-race", "-count=1", "./internal/keymint/...", "./internal/localserver/..."); err != nil {
		return err
	}
	step("tests, %s CLI, API generation 1", d.cli)
	if err := run(ctx, d.root, envWith(env, keymint.EnvAPIVersion+"=v1"), "go", goTest(args, "./...")...); err != nil {
		return err
	}
	step("acceptance tests, %s CLI, API generation 2", d.cli)
	return run(ctx, d.root, envWith(env, keymint.EnvAPIVersion+"=v2"), "go", goTest(args, "./internal/provider/...")...)
}

// missingLiveVariables returns the live variables that env lacks.
func missingLiveVariables(env []string) []string {
	var missing []string
	for _, v := range acctest.LiveVariables {
		if envValue(env, v) == "" {
			missing = append(missing, v)
		}
	}
	return missing
}

func cmdTestacc(ctx context.Context, d *dev, args []string) error {
	return d.testacc(ctx, os.Environ(), args)
}

// testacc runs the acceptance tests against the server that the live
// variables of env name.
func (d *dev) testacc(ctx context.Context, env []string, args []string) error {
	if missing := missingLiveVariables(env); len(missing) > 0 {
		return fmt.Errorf("the live acceptance tests need %s set (see the README: Running the tests against the live API)",
			strings.Join(missing, ", "))
	}
	cliPath, err := d.testCLI(ctx)
	if err != nil {
		return err
	}
	return run(ctx, d.root, testEnv(env, d.cli, cliPath, false), "go", goTest(args, "./internal/provider/...")...)
}

// examplesTests check examples/: tools/e2e validates every directory under
// the CLI, and TestActionExamples the ones that use actions, which need
// Terraform 1.14.
const examplesTests = "^(TestExamplesFormatted|TestExamplesValidate|TestActionExamples)$"

func cmdExamplesCheck(ctx context.Context, d *dev, args []string) error {
	cliPath, err := d.testCLI(ctx)
	if err != nil {
		return err
	}
	env := testEnv(os.Environ(), d.cli, cliPath, true)
	return run(ctx, d.root, env, "go", goTest(append([]string{"-v", "-run", examplesTests}, args...), "./tools/e2e/", "./internal/provider/")...)
}

func cmdBench(ctx context.Context, d *dev, args []string) error {
	cliPath, err := d.testCLI(ctx)
	if err != nil {
		return err
	}
	// tools/bench/cmd writes BENCHMARKS.md itself (-out).
	return run(ctx, d.root, nil, "go", append([]string{"run", "./tools/bench/cmd", "-terraform", cliPath}, args...)...)
}

func cmdReleaseCheck(ctx context.Context, d *dev, args []string) error {
	cliPath, err := d.testCLI(ctx)
	if err != nil {
		return err
	}
	env := envWith(testEnv(os.Environ(), d.cli, cliPath, true), "KEYMINT_RELEASE_DIST="+filepath.Join(d.root, "dist"))
	return run(ctx, d.root, env, "go", append(append([]string{"test", "-count=1", "-v"}, args...), "./tools/release/")...)
}

func cmdCLI(ctx context.Context, d *dev, _ []string) error {
	path, err := pinnedCLI(ctx, d.root, d.cli)
	if err == nil {
		fmt.Println(path)
	}
	return err
}

func cmdTools(ctx context.Context, d *dev, _ []string) error {
	for _, cli := range []string{"terraform", "tofu"} {
		path, err := pinnedCLI(ctx, d.root, cli)
		if err != nil {
			return err
		}
		step("%s", path)
	}
	for _, t := range goTools {
		args := append([]string{"tool", "-modfile=" + filepath.Join("tools", t.name+".mod"), t.name}, t.versionArgs...)
		if err := run(ctx, d.root, nil, "go", args...); err != nil {
			return err
		}
	}
	return nil
}

func cmdFmt(ctx context.Context, d *dev, _ []string) error {
	out, err := exec.CommandContext(ctx, "git", "-C", d.root, "ls-files", "*.go").Output()
	if err != nil {
		return fmt.Errorf("git ls-files: %w%s", err, stderrOf(err))
	}
	if files := strings.Fields(string(out)); len(files) > 0 {
		if err := run(ctx, d.root, nil, "gofmt", append([]string{"-s", "-w"}, files...)...); err != nil {
			return err
		}
	}
	cliPath, err := d.testCLI(ctx)
	if err != nil {
		return err
	}
	return run(ctx, d.root, nil, cliPath, "fmt", "-recursive", "examples/")
}

func cmdDocsCheck(ctx context.Context, d *dev, _ []string) error {
	var status bytes.Buffer
	cmd := exec.CommandContext(ctx, "git", "status", "--porcelain", "--", "docs/")
	cmd.Dir, cmd.Stdout, cmd.Stderr = d.root, &status, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("git status: %w", err)
	}
	if status.Len() == 0 {
		fmt.Println("docs/ is what `make generate` produces")
		return nil
	}
	fmt.Print(status.String())
	if err := run(ctx, d.root, nil, "git", "--no-pager", "diff", "--", "docs/"); err != nil {
		return err
	}
	return errors.New("docs/ is out of date: run 'make generate' and commit the result")
}
