package pluginserver

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"

	"github.com/keymint-dev/terraform-provider-keymint/internal/provider"
)

func framework() tfprotov6.ProviderServer {
	return providerserver.NewProtocol6(provider.New("test")())()
}

func TestWrapperKeepsExtensions(t *testing.T) {
	inner := framework()
	wrapped := NewServer(inner)
	if _, ok := wrapped.(*releasingServer); !ok {
		t.Fatalf("the framework's server (%T) was not wrapped: it lacks an extension fullServer expects", inner)
	}
	// These are the extension interfaces tf6server looks for today.
	//nolint:staticcheck // deprecated only in favour of a future ProviderServer
	checks := map[string]func(tfprotov6.ProviderServer) bool{
		"actions": func(s tfprotov6.ProviderServer) bool { _, ok := s.(tfprotov6.ProviderServerWithActions); return ok },
		"list resources": func(s tfprotov6.ProviderServer) bool {
			_, ok := s.(tfprotov6.ProviderServerWithListResource)
			return ok
		},
		"state stores": func(s tfprotov6.ProviderServer) bool { _, ok := s.(tfprotov6.ProviderServerWithStateStores); return ok },
	}
	for name, has := range checks {
		if has(inner) != has(wrapped) {
			t.Errorf("%s: the framework's server has it: %v, the wrapper: %v", name, has(inner), has(wrapped))
		}
	}
}

// Releases happen while requests run concurrently, and never fail one.
func TestReleaseDuringRequests(t *testing.T) {
	s := NewServer(framework())
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 3 * releaseEvery / 8 {
				resp, err := s.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{})
				if err != nil || len(resp.Diagnostics) > 0 || resp.ResourceSchemas["keymint_device_activation"] == nil {
					t.Errorf("GetProviderSchema: %v %v", err, resp)
					return
				}
			}
		})
	}
	wg.Wait()
	if got := s.(*releasingServer).requests.Load(); got < 3*releaseEvery-8 {
		t.Errorf("%d requests counted", got)
	}
}

func TestQuietUnlessAsked(t *testing.T) {
	for _, v := range append([]string{"TF_LOG", "TF_LOG_PATH", "TF_LOG_CORE", "TF_ACC_LOG_PATH"}, sdkLogVariables...) {
		t.Setenv(v, "")
		_ = os.Unsetenv(v)
	}
	QuietUnlessAsked()
	for _, v := range sdkLogVariables {
		if got := os.Getenv(v); got != "off" {
			t.Errorf("%s = %q with no TF_LOG* set, want off", v, got)
		}
		_ = os.Unsetenv(v)
	}
	t.Setenv("TF_LOG", "DEBUG")
	QuietUnlessAsked()
	for _, v := range sdkLogVariables {
		if got, set := os.LookupEnv(v); set {
			t.Errorf("%s = %q although TF_LOG asks for logs", v, got)
		}
	}
}
