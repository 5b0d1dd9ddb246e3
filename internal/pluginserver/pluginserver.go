// Package pluginserver serves a framework provider over plugin protocol 6,
// as providerserver.Serve does, with two remedies for costs that every
// framework provider pays at fleet scale (measured by `make bench`):
//
//   - Logging that nobody reads. When no TF_LOG* variable is set, Terraform
//     discards what providers log, yet the framework and protocol layers log
//     every call at TRACE (their default level), as JSON lines that Terraform
//     still reads and parses: about 270 lines per resource for a plan, apply
//     and destroy. Serve turns those loggers off in that case only.
//   - Contexts kept until exit. terraform-plugin-framework v1.19 registers
//     the cancel function of every request's context and drops them only in
//     StopProvider, so each request's context (with its loggers) stays
//     reachable for the life of the process: tens of megabytes for a thousand
//     resources. Serve releases them every releaseEvery requests, at a moment
//     when no request is in flight, through the same StopProvider call.
//
// The benchmark's no-op provider is served the same way, so that its floor
// and this provider differ only in their own work.
package pluginserver

import (
	"context"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6/tf6server"
)

// releaseEvery is how many requests pass between two releases of the
// framework's registered contexts.
const releaseEvery = 200

// Serve serves the provider at the registry address. debug runs it for a
// debugger (the -debug flag of the provider binary).
func Serve(newProvider func() provider.Provider, address string, debug bool) error {
	QuietUnlessAsked()
	var opts []tf6server.ServeOpt
	if debug {
		opts = append(opts, tf6server.WithManagedDebug())
	}
	return tf6server.Serve(address, func() tfprotov6.ProviderServer {
		return NewServer(providerserver.NewProtocol6(newProvider())())
	}, opts...)
}

// sdkLogVariables are the variables that set the levels of the provider's
// own logs and of the framework and protocol layers' logs.
var sdkLogVariables = []string{"TF_LOG_PROVIDER", "TF_LOG_SDK", "TF_LOG_SDK_PROTO", "TF_LOG_SDK_FRAMEWORK"}

// QuietUnlessAsked turns the provider's logs off when no TF_LOG* variable
// (nor TF_ACC_LOG_PATH) asks for logs: Terraform would discard them anyway.
// Whoever sets TF_LOG, TF_LOG_PROVIDER or any other TF_LOG* variable gets
// every log as before.
func QuietUnlessAsked() {
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "TF_LOG") || name == "TF_ACC_LOG_PATH" {
			return
		}
	}
	for _, v := range sdkLogVariables {
		_ = os.Setenv(v, "off")
	}
}

// fullServer is a protocol-6 server with every optional extension, as the
// framework's server is. The wrapper forwards them all, so that Terraform
// sees the same capabilities (actions, list resources, state stores).
type fullServer interface {
	tfprotov6.ProviderServer
	tfprotov6.ListResourceServer
	tfprotov6.ActionServer
	tfprotov6.StateStoreServer
}

// NewServer wraps a framework protocol-6 server so that the contexts it
// registers are released regularly; see the package documentation. A server
// without every extension is returned as it is.
func NewServer(inner tfprotov6.ProviderServer) tfprotov6.ProviderServer {
	full, ok := inner.(fullServer)
	if !ok {
		return inner
	}
	return &releasingServer{fullServer: full}
}

type releasingServer struct {
	fullServer

	// Requests hold the read lock while they run; a release holds the
	// write lock, so it never cancels the context of a running request.
	mu       sync.RWMutex
	requests atomic.Int64
}

// track marks a request running until the returned function is called.
func (s *releasingServer) track() func() {
	s.mu.RLock()
	return func() {
		s.mu.RUnlock()
		if s.requests.Add(1)%releaseEvery == 0 {
			go s.release()
		}
	}
}

// release drops the framework's registered contexts while no request runs.
// Every request those contexts belonged to has ended, so cancelling them
// affects nothing.
func (s *releasingServer) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, _ = s.StopProvider(context.Background(), &tfprotov6.StopProviderRequest{}) // the framework's, not wrapped
}

func (s *releasingServer) GetMetadata(ctx context.Context, req *tfprotov6.GetMetadataRequest) (*tfprotov6.GetMetadataResponse, error) {
	defer s.track()()
	return s.fullServer.GetMetadata(ctx, req)
}

func (s *releasingServer) GetProviderSchema(ctx context.Context, req *tfprotov6.GetProviderSchemaRequest) (*tfprotov6.GetProviderSchemaResponse, error) {
	defer s.track()()
	return s.fullServer.GetProviderSchema(ctx, req)
}

func (s *releasingServer) GetResourceIdentitySchemas(ctx context.Context, req *tfprotov6.GetResourceIdentitySchemasRequest) (*tfprotov6.GetResourceIdentitySchemasResponse, error) {
	defer s.track()()
	return s.fullServer.GetResourceIdentitySchemas(ctx, req)
}

func (s *releasingServer) ValidateProviderConfig(ctx context.Context, req *tfprotov6.ValidateProviderConfigRequest) (*tfprotov6.ValidateProviderConfigResponse, error) {
	defer s.track()()
	return s.fullServer.ValidateProviderConfig(ctx, req)
}

func (s *releasingServer) ConfigureProvider(ctx context.Context, req *tfprotov6.ConfigureProviderRequest) (*tfprotov6.ConfigureProviderResponse, error) {
	defer s.track()()
	return s.fullServer.ConfigureProvider(ctx, req)
}

func (s *releasingServer) ValidateResourceConfig(ctx context.Context, req *tfprotov6.ValidateResourceConfigRequest) (*tfprotov6.ValidateResourceConfigResponse, error) {
	defer s.track()()
	return s.fullServer.ValidateResourceConfig(ctx, req)
}

func (s *releasingServer) UpgradeResourceState(ctx context.Context, req *tfprotov6.UpgradeResourceStateRequest) (*tfprotov6.UpgradeResourceStateResponse, error) {
	defer s.track()()
	return s.fullServer.UpgradeResourceState(ctx, req)
}

func (s *releasingServer) ReadResource(ctx context.Context, req *tfprotov6.ReadResourceRequest) (*tfprotov6.ReadResourceResponse, error) {
	defer s.track()()
	return s.fullServer.ReadResource(ctx, req)
}

func (s *releasingServer) PlanResourceChange(ctx context.Context, req *tfprotov6.PlanResourceChangeRequest) (*tfprotov6.PlanResourceChangeResponse, error) {
	defer s.track()()
	return s.fullServer.PlanResourceChange(ctx, req)
}

func (s *releasingServer) ApplyResourceChange(ctx context.Context, req *tfprotov6.ApplyResourceChangeRequest) (*tfprotov6.ApplyResourceChangeResponse, error) {
	defer s.track()()
	return s.fullServer.ApplyResourceChange(ctx, req)
}

func (s *releasingServer) ImportResourceState(ctx context.Context, req *tfprotov6.ImportResourceStateRequest) (*tfprotov6.ImportResourceStateResponse, error) {
	defer s.track()()
	return s.fullServer.ImportResourceState(ctx, req)
}

func (s *releasingServer) ValidateDataResourceConfig(ctx context.Context, req *tfprotov6.ValidateDataResourceConfigRequest) (*tfprotov6.ValidateDataResourceConfigResponse, error) {
	defer s.track()()
	return s.fullServer.ValidateDataResourceConfig(ctx, req)
}

func (s *releasingServer) ReadDataSource(ctx context.Context, req *tfprotov6.ReadDataSourceRequest) (*tfprotov6.ReadDataSourceResponse, error) {
	defer s.track()()
	return s.fullServer.ReadDataSource(ctx, req)
}
