package provider

import (
	"strings"
	"testing"
)

func TestParseActivationImportID(t *testing.T) {
	t.Setenv("KEYMINT_TEST_IMPORT_KEY", "LK-FROM-ENV-0000-0000-0000")
	const prod = "prod_0123456789abcdefghij"
	tests := []struct {
		id                 string
		product, key, host string
		wantErr            string
	}{
		{id: prod + "/LK-1/host-1", product: prod, key: "LK-1", host: "host-1"},
		{id: prod + "/0B4ADFD8-8C47ECD0/h", product: prod, key: "0B4ADFD8-8C47ECD0", host: "h"}, // a custom format of 17
		{id: prod + "/LK-1/rack/3/host", product: prod, key: "LK-1", host: "rack/3/host"},
		{id: prod + "/env:KEYMINT_TEST_IMPORT_KEY/h", product: prod, key: "LK-FROM-ENV-0000-0000-0000", host: "h"},
		{id: prod + "/LK-1", wantErr: "has 2 part(s)"},
		{id: "prod_1", wantErr: "has 1 part(s)"},
		{id: "", wantErr: "has 1 part(s)"},
		{id: "/LK-1/h", wantErr: "the product_id part of the import ID is empty"},
		{id: prod + "//h", wantErr: "the license_key part of the import ID is empty"},
		{id: prod + "/LK-1/", wantErr: "the host_id part of the import ID is empty"},
		{id: prod + "/env:/h", wantErr: "without a variable name"},
		{id: prod + "/env:KEYMINT_UNSET_VARIABLE_X/h", wantErr: "KEYMINT_UNSET_VARIABLE_X, which is not set"},
		{id: "prod_1/LK-1/h", wantErr: "the product_id part of the import ID must be 22 to 256 characters, got: 6"},
		{id: prod + "/LK-1 /h", wantErr: "starts or ends with whitespace"},
		{id: prod + "/LK-1\x1b[31m/h", wantErr: "character 5 is a control character (U+001B)"},
		{id: prod + "/" + strings.Repeat("K", 257) + "/h", wantErr: "must be 1 to 256 characters long, got: 257"},
		{id: prod + "/LK-1/" + strings.Repeat("h", 65), wantErr: "the host_id part of the import ID must be 1 to 64 characters, got: 65"},
	}
	for _, tt := range tests {
		p, k, h, err := parseActivationImportID(tt.id)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: err = %v, want %q", tt.id, err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "LK-1") {
				t.Errorf("%q: the error repeats the license key: %v", tt.id, err)
			}
			continue
		}
		if err != nil || p != tt.product || k != tt.key || h != tt.host {
			t.Errorf("%q = (%q, %q, %q, %v)", tt.id, p, k, h, err)
		}
	}
}

func TestActivationIDHidesKey(t *testing.T) {
	id := activationID("prod_0123456789abcdefghij", "LK-SECRET-0123-4567-89AB", "host-1")
	if strings.Contains(id, "SECRET") {
		t.Errorf("id %q contains the key", id)
	}
	if id != activationID("prod_0123456789abcdefghij", "LK-SECRET-0123-4567-89AB", "host-1") {
		t.Error("the id is not stable")
	}
	if id == activationID("prod_0123456789abcdefghij", "LK-OTHER-0123-4567-89AB", "host-1") {
		t.Error("two keys give the same id")
	}
}
