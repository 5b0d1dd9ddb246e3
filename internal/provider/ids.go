package provider

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"unicode/utf8"
)

// keyFingerprint identifies a license key of a product without revealing it.
// Terraform prints resource IDs in its output, so an ID never holds the key.
func keyFingerprint(productID, licenseKey string) string {
	sum := sha256.Sum256([]byte(productID + "\x00" + licenseKey))
	return hex.EncodeToString(sum[:8])
}

// activationID is the ID of a keymint_device_activation:
// <product_id>/<key fingerprint>/<host_id>.
func activationID(productID, licenseKey, hostID string) string {
	return productID + "/" + keyFingerprint(productID, licenseKey) + "/" + hostID
}

// importFormat describes the import ID of keymint_device_activation.
const importFormat = "<product_id>/<license_key>/<host_id>"

// importKeyFromEnv prefixes a license-key part of an import ID that names an
// environment variable holding the key, so that the key itself never
// appears in an import ID, which Terraform prints.
const importKeyFromEnv = "env:"

// parseActivationImportID splits an import ID of the form
// <product_id>/<license_key>/<host_id>. The host ID is the rest after the
// second slash, so it may itself contain slashes; the product ID and license
// key may not. A license-key part env:NAME takes the key from the
// environment variable NAME. Errors never repeat the ID, which may hold the
// license key.
func parseActivationImportID(id string) (productID, licenseKey, hostID string, err error) {
	productID, licenseKey, hostID, err = splitImportID(id, [3]string{"product_id", "license_key", "host_id"}, importFormat)
	if err != nil {
		return "", "", "", err
	}
	if n := utf8.RuneCountInString(hostID); n < hostIDMin || n > hostIDMax {
		return "", "", "", fmt.Errorf("the host_id part of the import ID must be %d to %d characters, got: %d", hostIDMin, hostIDMax, n)
	}
	return productID, licenseKey, hostID, nil
}

// splitImportID splits an import ID of the form <product_id>/<license_key>/<rest>
// into its three parts, named by names in errors, and checks the first two:
// the rest is everything after the second slash. A license-key part env:NAME
// takes the key from the environment variable NAME. format is the form the
// errors show. Errors never repeat the ID, which may hold the license key.
func splitImportID(id string, names [3]string, format string) (productID, licenseKey, rest string, err error) {
	parts := strings.SplitN(id, "/", 3)
	if len(parts) != 3 {
		return "", "", "", fmt.Errorf("the import ID has %d part(s) separated by \"/\"; expected 3 in the form %s", len(parts), format)
	}
	for i, p := range parts {
		if p == "" {
			return "", "", "", fmt.Errorf("the %s part of the import ID is empty; expected the form %s", names[i], format)
		}
	}
	productID, licenseKey, rest = parts[0], parts[1], parts[2]
	if name, ok := strings.CutPrefix(licenseKey, importKeyFromEnv); ok {
		if name == "" {
			return "", "", "", fmt.Errorf("the license_key part of the import ID is %q without a variable name; write %sNAME, naming an environment variable that holds the key", importKeyFromEnv, importKeyFromEnv)
		}
		if licenseKey = os.Getenv(name); licenseKey == "" {
			return "", "", "", fmt.Errorf("the import ID takes the license key from the environment variable %s, which is not set or empty", name)
		}
	}
	if n := utf8.RuneCountInString(productID); n < productIDMin || n > productIDMax {
		return "", "", "", fmt.Errorf("the product_id part of the import ID must be %d to %d characters, got: %d", productIDMin, productIDMax, n)
	}
	if err := checkLicenseKey(licenseKey); err != nil {
		return "", "", "", fmt.Errorf("the license_key part of the import ID is not a usable license key: %w", err)
	}
	return productID, licenseKey, rest, nil
}

// fleetAllDevices stands for "no device tag" in the ID and the import ID of
// keymint_license_activations: the scope is every device of the license.
const fleetAllDevices = "*"

// FleetID is the ID of a keymint_license_activations:
// <product_id>/<key fingerprint>/<device_tag or *>.
func FleetID(productID, licenseKey, deviceTag string) string {
	if deviceTag == "" {
		deviceTag = fleetAllDevices
	}
	return productID + "/" + keyFingerprint(productID, licenseKey) + "/" + deviceTag
}

// fleetImportFormat describes the import ID of keymint_license_activations.
const fleetImportFormat = "<product_id>/<license_key>/<device_tag or *>"

// parseFleetImportID splits an import ID of the form
// <product_id>/<license_key>/<device_tag or *>, where * stands for every
// device of the license, and the license-key part may be env:NAME as in
// parseActivationImportID. The tag is everything after the second slash. deviceTag is "" for *. Errors never repeat the
// ID, which may hold the license key.
func parseFleetImportID(id string) (productID, licenseKey, deviceTag string, err error) {
	productID, licenseKey, deviceTag, err = splitImportID(id, [3]string{"product_id", "license_key", "device_tag"}, fleetImportFormat)
	if err != nil {
		return "", "", "", err
	}
	if deviceTag == fleetAllDevices {
		return productID, licenseKey, "", nil
	}
	if n := utf8.RuneCountInString(deviceTag); n < deviceTagMin || n > deviceTagMax {
		return "", "", "", fmt.Errorf("the device_tag part of the import ID must be %d to %d characters, or %s for every device of the license, got: %d", deviceTagMin, deviceTagMax, fleetAllDevices, n)
	}
	return productID, licenseKey, deviceTag, nil
}
