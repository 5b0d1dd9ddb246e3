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
	parts := strings.SplitN(id, "/", 3)
	if len(parts) != 3 {
		return "", "", "", fmt.Errorf("the import ID has %d part(s) separated by \"/\"; expected 3 in the form %s", len(parts), importFormat)
	}
	names := [3]string{"product_id", "license_key", "host_id"}
	for i, p := range parts {
		if p == "" {
			return "", "", "", fmt.Errorf("the %s part of the import ID is empty; expected the form %s", names[i], importFormat)
		}
	}
	productID, licenseKey, hostID = parts[0], parts[1], parts[2]
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
	if n := utf8.RuneCountInString(hostID); n < hostIDMin || n > hostIDMax {
		return "", "", "", fmt.Errorf("the host_id part of the import ID must be %d to %d characters, got: %d", hostIDMin, hostIDMax, n)
	}
	return productID, licenseKey, hostID, nil
}
