package provider

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/keymint-dev/terraform-provider-keymint/internal/keymint"
)

// The engine of keymint_license_activations: which hosts a change frees and
// takes, the calls that do it (concurrently, within a bound), and what the
// license holds afterwards. Everything here is O(n) in the hosts of the
// license and of the configuration: sets are maps, and the license is read
// once before and once after the calls, never per host.

// fleetConcurrency bounds how many API calls one keymint_license_activations
// makes at once: Terraform's default -parallelism, so that one resource
// holding a fleet loads KeyMint no more than the same fleet as separate
// resources would. The calls share the client's retries, its pacing
// (max_requests_per_minute) and its rate-limit gate, which holds back every
// call with the same token once KeyMint answers 429.
const fleetConcurrency = 10

// fleetScope is the devices of a license that a keymint_license_activations
// is authoritative for: those that carry its device tag, or every device
// when it has none.
type fleetScope struct {
	productID, licenseKey string
	// tag is the device tag, or "" for every device.
	tag string
}

// covers reports whether a device is in the scope.
func (s fleetScope) covers(dev keymint.Device) bool {
	return s.tag == "" || dev.DeviceTag == s.tag
}

// what describes the scope in messages, without the license key.
func (s fleetScope) what() string {
	if s.tag == "" {
		return fmt.Sprintf("the license of product %s", s.productID)
	}
	return fmt.Sprintf("the license of product %s (device tag %q)", s.productID, s.tag)
}

// heldHosts lists, sorted, the hosts that hold a seat of lic within scope
// and are either in managed or, when exclusive, any device in scope: what a
// keymint_license_activations holds according to the server.
func heldHosts(lic *keymint.License, scope fleetScope, managed map[string]bool, exclusive bool) []string {
	var out []string
	for _, dev := range lic.Devices {
		if scope.covers(dev) && (exclusive || managed[dev.HostID]) {
			out = append(out, dev.HostID)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// fleetChange is what applying a configuration changes on the server.
type fleetChange struct {
	// frees are the hosts to deactivate: managed hosts that left host_ids
	// and, when exclusive, the other devices in scope.
	frees []string
	// strays are the frees that Terraform's state did not list (devices in
	// scope that appeared since the last refresh, or all of them when
	// exclusive has just been turned on): the plan's diff does not show them.
	strays []string
	// takes are the hosts of host_ids that hold no seat, to activate.
	takes []string
	// retags are the hosts of host_ids that hold a seat under another
	// device tag: they are deactivated and activated again with the tag.
	retags []string
}

// seatsNeeded is how many more seats the change needs than it frees: the
// retags give back the seat they take.
func (c fleetChange) seatsNeeded() int { return len(c.takes) }

// empty reports whether the change makes no call.
func (c fleetChange) empty() bool {
	return len(c.frees) == 0 && len(c.takes) == 0 && len(c.retags) == 0
}

// planFleet computes the change from prior (the hosts in state) to want
// (the configuration's host_ids) on lic. Without lic (a token that may not
// read), it assumes that the hosts in state hold their seats and that no
// other does: it frees what left host_ids and activates what is new,
// activation being safe to repeat.
func planFleet(lic *keymint.License, scope fleetScope, prior, want []string, exclusive bool) fleetChange {
	var c fleetChange
	wanted := setOf(want)
	if lic == nil {
		for _, h := range prior {
			if !wanted[h] {
				c.frees = append(c.frees, h)
			}
		}
		had := setOf(prior)
		for _, h := range want {
			if !had[h] {
				c.takes = append(c.takes, h)
			}
		}
		return c
	}
	managed := setOf(prior)
	for _, dev := range lic.Devices {
		if wanted[dev.HostID] || !scope.covers(dev) {
			continue
		}
		switch {
		case managed[dev.HostID]:
			c.frees = append(c.frees, dev.HostID)
		case exclusive:
			c.frees = append(c.frees, dev.HostID)
			c.strays = append(c.strays, dev.HostID)
		}
	}
	for _, h := range want {
		dev, held := lic.Device(h)
		switch {
		case !held:
			c.takes = append(c.takes, h)
		case !scope.covers(dev):
			c.retags = append(c.retags, h)
		}
	}
	for _, s := range []*[]string{&c.frees, &c.strays, &c.takes, &c.retags} {
		slices.Sort(*s)
		*s = slices.Compact(*s)
	}
	return c
}

// setOf is a set of strings.
func setOf(items []string) map[string]bool {
	m := make(map[string]bool, len(items))
	for _, s := range items {
		m[s] = true
	}
	return m
}

// freeSeats is how many seats of lic are free once frees more are, or -1
// when the license is unlimited.
func freeSeats(lic *keymint.License, frees int) int64 {
	if lic.MaxActivations == nil {
		return -1
	}
	return max(0, *lic.MaxActivations-deviceCount(lic)) + int64(frees)
}

// fits reports whether the change fits the seats of lic.
func (c fleetChange) fits(lic *keymint.License) bool {
	free := freeSeats(lic, len(c.frees))
	return free < 0 || int64(c.seatsNeeded()) <= free
}

// seatShortage says, for a change that does not fit, how many seats it
// needs, how many are free, and who holds them.
func seatShortage(lic *keymint.License, scope fleetScope, c fleetChange, exclusive bool) string {
	var b strings.Builder
	free := freeSeats(lic, len(c.frees))
	fmt.Fprintf(&b, "host_ids lists %s that hold no seat of %s, but the license has %s", hostCount(c.seatsNeeded()), scope.what(), seatCount(free))
	if len(c.frees) > 0 {
		fmt.Fprintf(&b, " once this change frees %s", hostCount(len(c.frees)))
	}
	fmt.Fprintf(&b, ": %d short. Nothing was changed.\n\nHosts that need a seat: %s.\n\n%s\n\n%s",
		int64(c.seatsNeeded())-free, quoteHosts(c.takes, seatHostsShown), seatUsage(lic), fleetSeatAdvice(exclusive))
	return b.String()
}

// fleetSeatAdvice says how to make a fleet fit.
func fleetSeatAdvice(exclusive bool) string {
	more := ""
	if !exclusive {
		more = "set exclusive = true (with a device_tag, to free only the devices that carry it) so that the devices in " +
			"scope that are not in host_ids are freed, "
	}
	return "To make room: remove hosts from host_ids, " + more + "deactivate unused devices in KeyMint, reset the " +
		"license with keymint_license_reset, or raise the license's seat limit."
}

// hostCount says "1 host" or "N hosts".
func hostCount(n int) string {
	if n == 1 {
		return "1 host"
	}
	return fmt.Sprintf("%d hosts", n)
}

// seatCount says "1 free seat" or "N free seats".
func seatCount(n int64) string {
	if n == 1 {
		return "1 free seat"
	}
	return fmt.Sprintf("%d free seats", n)
}

// quoteHosts lists hosts, quoted, at most limit of them.
func quoteHosts(hosts []string, limit int) string {
	var b strings.Builder
	for i, h := range hosts {
		if i == limit {
			fmt.Fprintf(&b, " and %d more", len(hosts)-limit)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", h)
	}
	return b.String()
}

// forEachHost calls call for every host, at most fleetConcurrency at once,
// and returns the errors by host's index. Once ctx ends, the hosts not
// started yet get ctx's error without a call: errNotSent tells them apart.
func forEachHost(ctx context.Context, hosts []string, call func(ctx context.Context, host string) error) []error {
	errs := make([]error, len(hosts))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(fleetConcurrency, len(hosts)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				errs[i] = call(ctx, hosts[i])
			}
		}()
	}
	for i := range hosts {
		if err := ctx.Err(); err != nil {
			errs[i] = &notSentError{err}
			continue
		}
		next <- i
	}
	close(next)
	wg.Wait()
	return errs
}

// notSentError is the error of a call that was never made, because the
// operation was interrupted first.
type notSentError struct{ cause error }

func (e *notSentError) Error() string {
	return fmt.Sprintf("not attempted: the operation was interrupted (%v)", e.cause)
}

func (e *notSentError) Unwrap() error { return e.cause }

// callOutcome is what one call answered, for one host.
type callOutcome int

const (
	// done: KeyMint's own success (a deactivation's "Device not found"
	// included).
	done callOutcome = iota
	// refused: KeyMint's own definite refusal; nothing changed.
	refused
	// unconfirmed: a deactivation answered "License not activated", which
	// counts only once a read confirms that the host holds no seat.
	unconfirmed
	// unknown: the call may or may not have taken effect (a failure in
	// transit, a server error, an answer that is not KeyMint's, an
	// interruption).
	unknown
	// notSent: the call was never made.
	notSent
)

// deactivationOutcome classifies a deactivation's answer (see seatFreed).
func deactivationOutcome(err error) callOutcome {
	var ns *notSentError
	switch {
	case err == nil, keymint.IsDeviceNotFound(err), keymint.IsLicenseNotFound(err):
		return done
	case keymint.IsNotActivated(err):
		return unconfirmed
	case errors.As(err, &ns):
		return notSent
	case outcomeUnknown(err):
		return unknown
	}
	return refused
}

// activationOutcome classifies an activation's answer.
func activationOutcome(err error) callOutcome {
	var ns *notSentError
	switch {
	case err == nil:
		return done
	case errors.As(err, &ns):
		return notSent
	case outcomeUnknown(err):
		return unknown
	}
	return refused
}

// hostFailure is a host whose call did not reach its goal, with why.
type hostFailure struct {
	host string
	// err is the call's error, or nil when KeyMint answered a success that
	// the license read afterwards contradicts.
	err error
}

// failureGroups groups failures by the text of their error, in the order
// of their first host, so that a thousand hosts refused for one reason make
// one paragraph.
func failureGroups(fails []hostFailure) [][]hostFailure {
	var order []string
	groups := map[string][]hostFailure{}
	for _, f := range fails {
		key := "<nil>"
		if f.err != nil {
			key = f.err.Error()
		}
		if _, ok := groups[key]; !ok {
			order = append(order, key)
		}
		groups[key] = append(groups[key], f)
	}
	out := make([][]hostFailure, len(order))
	for i, k := range order {
		out[i] = groups[k]
	}
	return out
}

// hostsOf lists the hosts of failures.
func hostsOf(fails []hostFailure) []string {
	out := make([]string, len(fails))
	for i, f := range fails {
		out[i] = f.host
	}
	return out
}
