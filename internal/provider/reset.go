package provider

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/keymint-dev/terraform-provider-keymint/internal/keymint"
)

// licenseReset is what resetting a license did.
type licenseReset struct {
	// Before is the license as read just before the reset.
	Before *keymint.License
	// Removed is the number of devices freed: the server's count when it
	// sends one, otherwise the number the license held just before.
	Removed int64
	// At is when the reset completed.
	At time.Time
}

// resetLicense deactivates every device of a license, for both the
// keymint_license_reset resource and action. before, when not nil, is told
// what the license holds before anything is deactivated.
//
// A license with nothing active is answered "License not activated", which is
// a successful reset once a fresh read confirms that no device holds a seat
// (a blocked key answers the same while its devices keep their seats). The
// same answer comes when a retry follows an attempt whose answer was lost, so
// the count is then the one read just before.
func resetLicense(ctx context.Context, client *keymint.Client, productID, licenseKey string, before func(*keymint.License)) (*licenseReset, error) {
	// A fresh read, not one shared with earlier reads of this run: devices
	// activated elsewhere in the meantime are freed too and must be counted.
	lic, err := client.GetKeyFresh(ctx, productID, licenseKey)
	if err != nil {
		return nil, err
	}
	if before != nil {
		before(lic)
	}
	res := &licenseReset{Before: lic, Removed: deviceCount(lic)}
	d, err := client.DeactivateAll(ctx, productID, licenseKey)
	switch {
	case err == nil:
		if d.DevicesRemoved != nil {
			res.Removed = *d.DevicesRemoved
		}
	case keymint.IsNotActivated(err):
		// Nothing active, or a retry after an answer that was lost; but a
		// blocked key or an inactive customer may answer the same while its
		// devices keep their seats. A fresh read tells them apart.
		after, readErr := client.GetKeyFresh(ctx, productID, licenseKey)
		if readErr != nil {
			return nil, fmt.Errorf("KeyMint answered %q, which the provider confirms by reading the license, and the read failed: %w", "License not activated", readErr)
		}
		if n := deviceCount(after); n > 0 {
			return nil, fmt.Errorf("KeyMint answered %q, but the license still lists %s: a blocked key, or an inactive "+
				"customer, answers so while its devices keep their seats. Unblock the key (or reactivate the customer) in "+
				"KeyMint, then reset again (%w)", "License not activated", devices(n), err)
		}
		tflog.Info(ctx, "the license had no active device", map[string]any{"product_id": productID, "devices_before": res.Removed})
	default:
		return nil, err
	}
	res.At = time.Now().UTC()
	return res, nil
}

// deviceCount is the number of devices holding a seat of lic: the devices it
// lists, or its activation count when a server lists none.
func deviceCount(lic *keymint.License) int64 {
	if n := int64(len(lic.Devices)); n > 0 {
		return n
	}
	return lic.Activations
}

// licenseWhat describes a license in messages, without its key.
func licenseWhat(productID string) string {
	return fmt.Sprintf("the license of product %s", productID)
}

// devices says "1 device" or "N devices".
func devices(n int64) string {
	if n == 1 {
		return "1 device"
	}
	return fmt.Sprintf("%d devices", n)
}
