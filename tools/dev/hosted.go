package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/keymint-dev/terraform-provider-keymint/internal/keymint"
	"github.com/keymint-dev/terraform-provider-keymint/tools/acctest"
	"github.com/keymint-dev/terraform-provider-keymint/tools/clirun"
)

// cmdTestaccHosted runs the live acceptance suite (testacc) against
// keymint-local started as a separate process with the hosted service's
// behaviours on: a per-token rate limit, a "client" token that may activate
// but not read, only the /key/... paths, and a license key in a custom
// format of 17 characters. The tests are configured only through the live
// variables, exactly as a user runs them against KeyMint; afterwards the
// key must hold no device.
//
// RUNS=3 runs the suite three times in a row on one server; RATE_LIMIT
// (default 30/10s, which the suite meets) is the server's limit per token.
func cmdTestaccHosted(ctx context.Context, d *dev, args []string) error {
	runs, err := strconv.Atoi(cmp.Or(os.Getenv("RUNS"), "1"))
	if err != nil || runs < 1 {
		return fmt.Errorf("RUNS=%q is not a number of runs", os.Getenv("RUNS"))
	}
	rateLimit := cmp.Or(os.Getenv("RATE_LIMIT"), "30/10s")
	work, err := os.MkdirTemp("", "keymint-testacc.")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(work) }()

	admin := "at_hosted_admin_" + randomHex(8)
	client := "at_hosted_client_" + randomHex(8)
	product := "prod_hosted_" + randomHex(8)
	key := strings.ToUpper(randomHex(4) + "-" + randomHex(4)) // 17 characters, as 0B4ADFD8-8C47ECD0

	step("building keymint-local")
	bin, err := clirun.BuildBinary(ctx, work, "keymint-local", "./cmd/keymint-local")
	if err != nil {
		return err
	}
	srv, err := startServer(ctx, bin, work,
		"-token", admin, "-token", client+":licenses:activate",
		"-product", product, "-customer", "Hosted Test <hosted@example.test>", "-license", key+"=50",
		"-api", "v2", "-rate-limit", rateLimit)
	if err != nil {
		return err
	}
	defer srv.stop()
	step("keymint-local on %s: -api v2 -rate-limit %s, an admin token and a licenses:activate token, one 50-seat key of 17 characters", srv.url, rateLimit)

	env := envWith(os.Environ(),
		keymint.EnvBaseURL+"="+srv.url, keymint.EnvAccessToken+"="+admin, acctest.EnvTestClientToken+"="+client,
		acctest.EnvTestProductID+"="+product, acctest.EnvTestLicenseKey+"="+key, acctest.EnvTestAllowReset+"=1")
	env = envWithout(env, keymint.EnvAPIVersion) // the default, auto, must find the /key/... paths by itself

	freed := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(product) + `\s.*\s0/[0-9]+ seats in use`)
	for i := 1; i <= runs; i++ {
		step("testacc, run %d of %d", i, runs)
		if err := d.testacc(ctx, env, args); err != nil {
			return err
		}
		seats, err := srv.client(ctx, os.Stdout, "seats", admin)
		if err != nil {
			return err
		}
		if !freed.MatchString(seats) {
			return fmt.Errorf("run %d left devices on the test key", i)
		}
		step("run %d: the key holds no device; the server's answers so far:", i)
		faults, err := srv.client(ctx, io.Discard, "faults", admin)
		if err != nil {
			return err
		}
		for _, line := range strings.Split(faults, "\n") {
			if strings.Contains(strings.ToLower(line), "rate") {
				fmt.Println(line)
			}
		}
	}
	return nil
}
