package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"

	"github.com/keymint-dev/terraform-provider-keymint/internal/keymint"
)

// What the resources, data sources and actions share: the provider's data,
// and the arguments that name a license.

// dataFrom returns the provider's data given to a Configure method, or nil
// when the provider is not configured yet (Terraform configures it before any
// call that needs the client).
func dataFrom(given any, diags *diag.Diagnostics) *providerData {
	if given == nil {
		return nil
	}
	data, ok := given.(*providerData)
	if !ok {
		diags.AddError("Unexpected provider data",
			fmt.Sprintf("Expected *providerData, got %T. This is a bug in the provider; please report it.", given))
		return nil
	}
	return data
}

// onceWarnings remembers which warnings were given. Terraform starts the
// provider afresh for every plan and apply, so "once" is once per run.
type onceWarnings struct {
	mu   sync.Mutex
	said map[string]bool
}

// first reports whether the warning named key is given for the first time.
func (w *onceWarnings) first(key string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.said[key] {
		return false
	}
	if w.said == nil {
		w.said = map[string]bool{}
	}
	w.said[key] = true
	return true
}

// warnCannotRead adds, once per run, the warning that the access token may
// not read licenses: activations are still made and freed, but what only a
// read shows is lost. err is the refused read.
func (d *providerData) warnCannotRead(diags *diag.Diagnostics, err error) {
	if !d.warnings.first("cannot-read") {
		return
	}
	diags.AddWarning("The access token cannot read licenses",
		fmt.Sprintf("KeyMint refused to read a license with this access token because it lacks the %s scope (%s).\n\n"+
			"Activations are still created and freed, but without reading the license the provider cannot "+
			"tell when a device was deactivated outside Terraform (no drift detection), cannot confirm that an "+
			"activation took effect, and leaves activation_time and ip_address empty. Give the token the %s "+
			"scope in the KeyMint dashboard to restore all of it.",
			keymint.ScopeLicensesRead, err, keymint.ScopeLicensesRead))
}

// seatFreed decides whether a deactivation left the host's seat free, from
// what KeyMint answered (err; nil when it deactivated the host). It returns
// nil when the seat is free, and otherwise the error to report.
//
// Why each answer means what it means (see also keymint's table of answers):
//   - success, or KeyMint's own 404 "Device not found": the host holds no seat.
//   - KeyMint's own 403 "License not activated": nothing of the license is
//     active, so the host holds no seat either; but a blocked key or an
//     inactive customer may answer the same while devices keep their seats.
//     So it counts only when a fresh read confirms that the license does not
//     list the host. A token that may not read cannot confirm it: then the
//     exact answer is accepted, with a warning that says so.
//   - anything else, including a 404 or 403 that is not KeyMint's: the seat
//     may be held; the error stands and the caller keeps its state.
func (d *providerData) seatFreed(ctx context.Context, productID, licenseKey, hostID string, err error, diags *diag.Diagnostics) error {
	switch {
	case err == nil || keymint.IsDeviceNotFound(err):
		return nil
	case !keymint.IsNotActivated(err):
		return err
	}
	lic, readErr := d.client.GetKeyFresh(ctx, productID, licenseKey)
	switch {
	case keymint.IsInsufficientScope(readErr):
		if d.warnings.first("not-activated-unconfirmed") {
			diags.AddWarning("Seat counted free without confirmation",
				fmt.Sprintf("KeyMint answered %q when host %q was deactivated (product %s). That answer also comes from a "+
					"blocked key or an inactive customer whose devices keep their seats, so the provider confirms it by reading "+
					"the license, but this access token lacks the %s scope. The seat is counted free; check the license in "+
					"KeyMint if the key may be blocked.", "License not activated", hostID, productID, keymint.ScopeLicensesRead))
		}
		return nil
	case readErr != nil:
		return fmt.Errorf("KeyMint answered %q, which the provider confirms by reading the license, and the read failed: %w", "License not activated", readErr)
	}
	if _, held := lic.Device(hostID); held {
		return &notActivatedButHeldError{hostID: hostID, answer: err}
	}
	return nil
}

// notActivatedButHeldError is a "License not activated" answer that the
// license contradicts: it still lists the host.
type notActivatedButHeldError struct {
	hostID string
	answer error
}

func (e *notActivatedButHeldError) Error() string {
	return fmt.Sprintf("KeyMint answered %q, but the license still lists host %q among its devices: a blocked key, or "+
		"an inactive customer, answers so while its devices keep their seats (%v)", "License not activated", e.hostID, e.answer)
}

func (e *notActivatedButHeldError) Unwrap() error { return e.answer }

// recordActivation remembers that this run activated (or adopted) the
// activation with the given ID, so that destroying another object for the
// same host in the same run does not take its seat away.
func (d *providerData) recordActivation(id string) {
	d.activated.Store(id, true)
}

// activatedThisRun reports whether this run activated the activation with
// the given ID (see recordActivation). Terraform starts the provider afresh
// for every plan and apply, so a run is one provider process.
func (d *providerData) activatedThisRun(id string) bool {
	_, ok := d.activated.Load(id)
	return ok
}

// Descriptions and validators of the arguments that name a license.
var (
	productIDDescription = fmt.Sprintf("KeyMint product ID (for example `prod_…`), %d to %d characters.", productIDMin, productIDMax)
	productIDValidators  = []validator.String{stringvalidator.UTF8LengthBetween(productIDMin, productIDMax)}
	licenseKeyValidators = []validator.String{licenseKeyValidator{}}
)

// checkLicenseKey tells what is wrong with a license key, or returns nil.
// KeyMint generates keys in formats its customers choose (1 to 10 sections
// of 1 to 32 characters, a separator, a prefix and a suffix), so any length
// from 1 to 256 characters is accepted; whitespace around the key and
// control characters are not, since they only ever come from a copy and
// paste gone wrong. The error never repeats the key.
func checkLicenseKey(key string) error {
	n := utf8.RuneCountInString(key)
	switch {
	case n < licenseKeyMin || n > licenseKeyMax:
		return fmt.Errorf("it must be %d to %d characters long, got: %d", licenseKeyMin, licenseKeyMax, n)
	case !utf8.ValidString(key):
		return errors.New("it is not valid UTF-8")
	case strings.TrimSpace(key) != key:
		return errors.New("it starts or ends with whitespace; remove the spaces or line break around the key")
	}
	for i, r := range []rune(key) {
		if unicode.IsControl(r) {
			return fmt.Errorf("character %d is a control character (U+%04X); license keys hold printable characters only", i+1, r)
		}
	}
	return nil
}

// licenseKeyValidator checks a license_key argument at plan time.
type licenseKeyValidator struct{}

func (licenseKeyValidator) Description(context.Context) string {
	return fmt.Sprintf("value must be %d to %d characters, without whitespace around it or control characters", licenseKeyMin, licenseKeyMax)
}

func (v licenseKeyValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (licenseKeyValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := checkLicenseKey(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid license key", fmt.Sprintf("Attribute %s is not a usable license key: %s.", req.Path, err))
	}
}

// licenseKeyDescription describes a license_key argument; use says what the
// key is for.
func licenseKeyDescription(use string) string {
	return fmt.Sprintf("License key %s, %d to %d characters (KeyMint's custom key formats are all accepted). It is a secret: pass it from a variable "+
		"marked `sensitive` or from a secret store, never as a literal in configuration.", use, licenseKeyMin, licenseKeyMax)
}
