//go:build unix

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestUserAgentNamesBuildVersion checks that the binary reports the version
// the build set (-X main.version, as the release build does) and the CLI's
// version in the User-Agent of every request it makes.
func TestUserAgentNamesBuildVersion(t *testing.T) {
	e := newEnv(t, 1)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	e.writeFleet(1)
	e.run(ctx, "apply", "-auto-approve", "-input=false", "-no-color")
	e.run(ctx, "destroy", "-auto-approve", "-input=false", "-no-color")

	agents := e.srv.UserAgents()
	if len(agents) == 0 {
		t.Fatal("the server saw no request")
	}
	want := "terraform-provider-keymint/" + buildVersion + " "
	for ua, n := range agents {
		if !strings.HasPrefix(ua, want) || !strings.Contains(ua, " Terraform/") {
			t.Errorf("%d requests with User-Agent %q, want it to start with %q and name the CLI's version (Terraform/…)", n, ua, want)
		}
	}
	t.Logf("User-Agent: %v", agents)
}
