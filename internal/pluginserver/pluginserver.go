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
//     resources. Serve releases them, through the same StopProvider call,
//     after every releaseEvery requests, at a moment when no request is in
//     flight.
//
// # Why a release cancels no request and delays none
//
// StopProvider cancels every context the framework registered, those of
// running requests included. A release is harmless only if no request whose
// context it cancels still has work to do. The wrapper therefore keeps count
// of the requests in flight, and releases only when the count is zero:
//
//   - Every RPC of the framework's server is tracked: each method of
//     tfprotov6.ProviderServer, ListResourceServer, ActionServer and
//     StateStoreServer, except StopProvider itself (Terraform calls it to
//     cancel what runs, so it must neither wait nor be waited for). The
//     wrapper names the server interface it forwards (fullServer) instead
//     of embedding the framework's server, so that a method added to those
//     interfaces by a newer terraform-plugin-go fails to compile here
//     rather than passing through untracked.
//   - A unary request is in flight from its call until it returns.
//   - A streamed answer (InvokeAction's Events, ListResource's Results,
//     ReadStateBytes' Chunks) does its work in its iterator, after the call
//     has returned: the framework runs an action in a goroutine the Events
//     iterator starts, and sends its completed event only once the action
//     has returned. Such a request stays in flight until the iterator has
//     yielded its last element and returned, or until the request's context
//     is done, whichever comes first. Once the request's context is done,
//     every context the framework derived from it is cancelled already, so
//     cancelling them again changes nothing. A consumer that stops early,
//     or never ranges over the stream, keeps the request in flight until
//     then (tf6server ranges over every stream, and stops early only when
//     the RPC's context is done or the stream is broken, after which gRPC
//     cancels that context).
//
// The count is the reader count of a sync.RWMutex: a request takes the read
// lock when it starts and gives it up when it ends. A release takes the
// write lock with TryLock, which succeeds only while no request is in flight
// and never waits: when it fails, the release is skipped, and every later
// request that ends tries again (the requests that end first find the
// others still running; the last one finds none). A failed TryLock leaves
// no writer pending, so it never holds up a new request. While a release
// holds the write lock, new requests wait for it: that is the time
// StopProvider takes to cancel the registered contexts, microseconds. The
// release runs in the goroutine of the request whose end finds none in
// flight: a unary answer leaves those microseconds later, a stream has sent
// its last element already.
//
// No request waits for another: a slow request only puts the release off
// until it ends, and memory grows meanwhile as it would without releases.
//
// The benchmark's no-op provider is served the same way, so that its floor
// and this provider differ only in their own work.
package pluginserver

import (
	"context"
	"iter"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6/tf6server"
)

// releaseEvery is how many requests end between two releases of the
// framework's registered contexts (more when a release has to be put off).
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
	return &releasingServer{inner: full}
}

// The wrapper implements every method itself: none is promoted from the
// framework's server, so none escapes tracking.
var _ fullServer = (*releasingServer)(nil)

type releasingServer struct {
	inner fullServer

	// inFlight is read-locked by each request while it is in flight, and
	// write-locked (only ever with TryLock) by a release.
	inFlight sync.RWMutex
	// due counts the requests ended since the last release.
	due atomic.Int64
	// ended and releases count requests ended and releases made, for
	// the tests.
	ended    atomic.Int64
	releases atomic.Int64
}

// begin marks a request in flight; end must follow exactly once.
func (s *releasingServer) begin() {
	s.inFlight.RLock()
}

// end marks a request ended and, if a release is due, tries it.
func (s *releasingServer) end() {
	s.inFlight.RUnlock()
	s.ended.Add(1)
	if s.due.Add(1) >= releaseEvery {
		s.tryRelease()
	}
}

// tryRelease drops the framework's registered contexts if no request is in
// flight, and otherwise leaves it to a request that ends later. Every
// request those contexts belonged to has ended, so cancelling them affects
// nothing.
func (s *releasingServer) tryRelease() {
	if !s.inFlight.TryLock() {
		return // a request is in flight, or another release runs
	}
	defer s.inFlight.Unlock()
	n := s.due.Load()
	if n < releaseEvery {
		return // another release came first
	}
	_, _ = s.inner.StopProvider(context.Background(), &tfprotov6.StopProviderRequest{})
	s.due.Add(-n)
	s.releases.Add(1)
}

// streamEnd ends a streamed request once: when its iterator has yielded
// everything, or when its context is done.
type streamEnd struct {
	once     sync.Once
	s        *releasingServer
	stopWait func() bool
}

// beginStream marks a streamed request in flight until its context is done
// or finish is called.
func (s *releasingServer) beginStream(ctx context.Context) *streamEnd {
	s.begin()
	e := &streamEnd{s: s}
	e.stopWait = context.AfterFunc(ctx, e.end)
	return e
}

func (e *streamEnd) end() { e.once.Do(e.s.end) }

// finish ends the request now.
func (e *streamEnd) finish() {
	e.stopWait()
	e.end()
}

// tracked returns seq, ending the request once seq has returned after
// yielding everything. When the consumer stops early, whatever seq had
// started may still run, so the request stays in flight until its context
// is done.
func tracked[T any](e *streamEnd, seq iter.Seq[T]) iter.Seq[T] {
	if seq == nil {
		e.finish()
		return nil
	}
	return func(yield func(T) bool) {
		stopped := false
		seq(func(v T) bool {
			if stopped || !yield(v) {
				stopped = true
				return false
			}
			return true
		})
		if !stopped {
			e.finish()
		}
	}
}

// StopProvider is Terraform's: it cancels what runs, so it is not tracked.
func (s *releasingServer) StopProvider(ctx context.Context, req *tfprotov6.StopProviderRequest) (*tfprotov6.StopProviderResponse, error) {
	return s.inner.StopProvider(ctx, req)
}

// Streamed answers.

func (s *releasingServer) InvokeAction(ctx context.Context, req *tfprotov6.InvokeActionRequest) (*tfprotov6.InvokeActionServerStream, error) {
	e := s.beginStream(ctx)
	handedOver := false
	defer func() {
		if !handedOver {
			e.finish()
		}
	}()
	inner, err := s.inner.InvokeAction(ctx, req)
	if err != nil || inner == nil {
		return inner, err // no stream is ranged over after an error
	}
	handedOver = true
	return &tfprotov6.InvokeActionServerStream{Events: tracked(e, inner.Events)}, nil
}

func (s *releasingServer) ListResource(ctx context.Context, req *tfprotov6.ListResourceRequest) (*tfprotov6.ListResourceServerStream, error) {
	e := s.beginStream(ctx)
	handedOver := false
	defer func() {
		if !handedOver {
			e.finish()
		}
	}()
	inner, err := s.inner.ListResource(ctx, req)
	if err != nil || inner == nil {
		return inner, err // no stream is ranged over after an error
	}
	handedOver = true
	return &tfprotov6.ListResourceServerStream{Results: tracked(e, inner.Results)}, nil
}

func (s *releasingServer) ReadStateBytes(ctx context.Context, req *tfprotov6.ReadStateBytesRequest) (*tfprotov6.ReadStateBytesStream, error) {
	e := s.beginStream(ctx)
	handedOver := false
	defer func() {
		if !handedOver {
			e.finish()
		}
	}()
	inner, err := s.inner.ReadStateBytes(ctx, req)
	if err != nil || inner == nil {
		return inner, err // no stream is ranged over after an error
	}
	handedOver = true
	return &tfprotov6.ReadStateBytesStream{Chunks: tracked(e, inner.Chunks)}, nil
}

// Unary requests, WriteStateBytes included: the framework reads its chunks
// before it returns.

func (s *releasingServer) GetMetadata(ctx context.Context, req *tfprotov6.GetMetadataRequest) (*tfprotov6.GetMetadataResponse, error) {
	s.begin()
	defer s.end()
	return s.inner.GetMetadata(ctx, req)
}

func (s *releasingServer) GetProviderSchema(ctx context.Context, req *tfprotov6.GetProviderSchemaRequest) (*tfprotov6.GetProviderSchemaResponse, error) {
	s.begin()
	defer s.end()
	return s.inner.GetProviderSchema(ctx, req)
}

func (s *releasingServer) GetResourceIdentitySchemas(ctx context.Context, req *tfprotov6.GetResourceIdentitySchemasRequest) (*tfprotov6.GetResourceIdentitySchemasResponse, error) {
	s.begin()
	defer s.end()
	return s.inner.GetResourceIdentitySchemas(ctx, req)
}

func (s *releasingServer) ValidateProviderConfig(ctx context.Context, req *tfprotov6.ValidateProviderConfigRequest) (*tfprotov6.ValidateProviderConfigResponse, error) {
	s.begin()
	defer s.end()
	return s.inner.ValidateProviderConfig(ctx, req)
}

func (s *releasingServer) ConfigureProvider(ctx context.Context, req *tfprotov6.ConfigureProviderRequest) (*tfprotov6.ConfigureProviderResponse, error) {
	s.begin()
	defer s.end()
	return s.inner.ConfigureProvider(ctx, req)
}

func (s *releasingServer) ValidateResourceConfig(ctx context.Context, req *tfprotov6.ValidateResourceConfigRequest) (*tfprotov6.ValidateResourceConfigResponse, error) {
	s.begin()
	defer s.end()
	return s.inner.ValidateResourceConfig(ctx, req)
}

func (s *releasingServer) UpgradeResourceState(ctx context.Context, req *tfprotov6.UpgradeResourceStateRequest) (*tfprotov6.UpgradeResourceStateResponse, error) {
	s.begin()
	defer s.end()
	return s.inner.UpgradeResourceState(ctx, req)
}

func (s *releasingServer) ReadResource(ctx context.Context, req *tfprotov6.ReadResourceRequest) (*tfprotov6.ReadResourceResponse, error) {
	s.begin()
	defer s.end()
	return s.inner.ReadResource(ctx, req)
}

func (s *releasingServer) PlanResourceChange(ctx context.Context, req *tfprotov6.PlanResourceChangeRequest) (*tfprotov6.PlanResourceChangeResponse, error) {
	s.begin()
	defer s.end()
	return s.inner.PlanResourceChange(ctx, req)
}

func (s *releasingServer) ApplyResourceChange(ctx context.Context, req *tfprotov6.ApplyResourceChangeRequest) (*tfprotov6.ApplyResourceChangeResponse, error) {
	s.begin()
	defer s.end()
	return s.inner.ApplyResourceChange(ctx, req)
}

func (s *releasingServer) ImportResourceState(ctx context.Context, req *tfprotov6.ImportResourceStateRequest) (*tfprotov6.ImportResourceStateResponse, error) {
	s.begin()
	defer s.end()
	return s.inner.ImportResourceState(ctx, req)
}

func (s *releasingServer) MoveResourceState(ctx context.Context, req *tfprotov6.MoveResourceStateRequest) (*tfprotov6.MoveResourceStateResponse, error) {
	s.begin()
	defer s.end()
	return s.inner.MoveResourceState(ctx, req)
}

func (s *releasingServer) UpgradeResourceIdentity(ctx context.Context, req *tfprotov6.UpgradeResourceIdentityRequest) (*tfprotov6.UpgradeResourceIdentityResponse, error) {
	s.begin()
	defer s.end()
	return s.inner.UpgradeResourceIdentity(ctx, req)
}

func (s *releasingServer) GenerateResourceConfig(ctx context.Context, req *tfprotov6.GenerateResourceConfigRequest) (*tfprotov6.GenerateResourceConfigResponse, error) {
	s.begin()
	defer s.end()
	return s.inner.GenerateResourceConfig(ctx, req)
}

func (s *releasingServer) ValidateDataResourceConfig(ctx context.Context, req *tfprotov6.ValidateDataResourceConfigRequest) (*tfprotov6.ValidateDataResourceConfigResponse, error) {
	s.begin()
	defer s.end()
	return s.inner.ValidateDataResourceConfig(ctx, req)
}

func (s *releasingServer) ReadDataSource(ctx context.Context, req *tfprotov6.ReadDataSourceRequest) (*tfprotov6.ReadDataSourceResponse, error) {
	s.begin()
	defer s.end()
	return s.inner.ReadDataSource(ctx, req)
}

func (s *releasingServer) CallFunction(ctx context.Context, req *tfprotov6.CallFunctionRequest) (*tfprotov6.CallFunctionResponse, error) {
	s.begin()
	defer s.end()
	return s.inner.CallFunction(ctx, req)
}

func (s *releasingServer) GetFunctions(ctx context.Context, req *tfprotov6.GetFunctionsRequest) (*tfprotov6.GetFunctionsResponse, error) {
	s.begin()
	defer s.end()
	return s.inner.GetFunctions(ctx, req)
}

func (s *releasingServer) ValidateEphemeralResourceConfig(ctx context.Context, req *tfprotov6.ValidateEphemeralResourceConfigRequest) (*tfprotov6.ValidateEphemeralResourceConfigResponse, error) {
	s.begin()
	defer s.end()
	return s.inner.ValidateEphemeralResourceConfig(ctx, req)
}

func (s *releasingServer) OpenEphemeralResource(ctx context.Context, req *tfprotov6.OpenEphemeralResourceRequest) (*tfprotov6.OpenEphemeralResourceResponse, error) {
	s.begin()
	defer s.end()
	return s.inner.OpenEphemeralResource(ctx, req)
}

func (s *releasingServer) RenewEphemeralResource(ctx context.Context, req *tfprotov6.RenewEphemeralResourceRequest) (*tfprotov6.RenewEphemeralResourceResponse, error) {
	s.begin()
	defer s.end()
	return s.inner.RenewEphemeralResource(ctx, req)
}

func (s *releasingServer) CloseEphemeralResource(ctx context.Context, req *tfprotov6.CloseEphemeralResourceRequest) (*tfprotov6.CloseEphemeralResourceResponse, error) {
	s.begin()
	defer s.end()
	return s.inner.CloseEphemeralResource(ctx, req)
}

func (s *releasingServer) ValidateListResourceConfig(ctx context.Context, req *tfprotov6.ValidateListResourceConfigRequest) (*tfprotov6.ValidateListResourceConfigResponse, error) {
	s.begin()
	defer s.end()
	return s.inner.ValidateListResourceConfig(ctx, req)
}

func (s *releasingServer) ValidateActionConfig(ctx context.Context, req *tfprotov6.ValidateActionConfigRequest) (*tfprotov6.ValidateActionConfigResponse, error) {
	s.begin()
	defer s.end()
	return s.inner.ValidateActionConfig(ctx, req)
}

func (s *releasingServer) PlanAction(ctx context.Context, req *tfprotov6.PlanActionRequest) (*tfprotov6.PlanActionResponse, error) {
	s.begin()
	defer s.end()
	return s.inner.PlanAction(ctx, req)
}

func (s *releasingServer) ValidateStateStoreConfig(ctx context.Context, req *tfprotov6.ValidateStateStoreConfigRequest) (*tfprotov6.ValidateStateStoreConfigResponse, error) {
	s.begin()
	defer s.end()
	return s.inner.ValidateStateStoreConfig(ctx, req)
}

func (s *releasingServer) ConfigureStateStore(ctx context.Context, req *tfprotov6.ConfigureStateStoreRequest) (*tfprotov6.ConfigureStateStoreResponse, error) {
	s.begin()
	defer s.end()
	return s.inner.ConfigureStateStore(ctx, req)
}

func (s *releasingServer) WriteStateBytes(ctx context.Context, req *tfprotov6.WriteStateBytesStream) (*tfprotov6.WriteStateBytesResponse, error) {
	s.begin()
	defer s.end()
	return s.inner.WriteStateBytes(ctx, req)
}

func (s *releasingServer) GetStates(ctx context.Context, req *tfprotov6.GetStatesRequest) (*tfprotov6.GetStatesResponse, error) {
	s.begin()
	defer s.end()
	return s.inner.GetStates(ctx, req)
}

func (s *releasingServer) DeleteState(ctx context.Context, req *tfprotov6.DeleteStateRequest) (*tfprotov6.DeleteStateResponse, error) {
	s.begin()
	defer s.end()
	return s.inner.DeleteState(ctx, req)
}

func (s *releasingServer) LockState(ctx context.Context, req *tfprotov6.LockStateRequest) (*tfprotov6.LockStateResponse, error) {
	s.begin()
	defer s.end()
	return s.inner.LockState(ctx, req)
}

func (s *releasingServer) UnlockState(ctx context.Context, req *tfprotov6.UnlockStateRequest) (*tfprotov6.UnlockStateResponse, error) {
	s.begin()
	defer s.end()
	return s.inner.UnlockState(ctx, req)
}
