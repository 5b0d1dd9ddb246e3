package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/keymint-dev/terraform-provider-keymint/internal/localserver"
)

// TestLicenseKeyLifecycleOverHTTP runs, against keymint-local serving over
// HTTP, the license-key steps of the live test of KeyMint's official Go
// SDK, written here from the API's documented behaviour: an admin token
// creates a key with 2 seats and metadata; a read-only token looks it up; a
// client token (licenses:activate only, as shipped inside desktop apps)
// activates a host, activates it again without taking a second seat, and
// deactivates it (devicesRemoved 1); the admin token raises the seat limit
// to 3, blocks the key and unblocks it. Each step checks what the API
// documents about its answer, and what the key holds afterwards. It runs
// once with the generation-2 paths the SDK sends (get-key with the
// licenseKey query parameter, as the SDK sends it), and once with the
// generation-1 paths and PATCH /key against a server of generation 1 only.
func TestLicenseKeyLifecycleOverHTTP(t *testing.T) {
	const (
		admin    = "at_sdkflow_admin_0123456789abcd"
		readOnly = "at_sdkflow_readonly_0123456789a"
		client   = "at_sdkflow_client_0123456789abc"
		prod     = "prod_sdkflow_0123456789abcd"
		host     = "ci-go-node-0123456789abcdef"
	)
	type paths struct {
		api, create, activate, deactivate, block, unblock string
		getKey                                            func(key string) (method, path string, body any)
	}
	for _, ps := range []paths{
		{
			api: "v2", create: "/key", activate: "/key/activate", deactivate: "/key/deactivate", block: "/key/block", unblock: "/key/unblock",
			getKey: func(key string) (string, string, any) {
				return http.MethodGet, "/key?" + url.Values{"productId": {prod}, "licenseKey": {key}}.Encode(), nil
			},
		},
		{
			api: "v1", create: "/create-key", activate: "/activate-key", deactivate: "/deactivate-key", block: "/block-key", unblock: "/unblock-key",
			getKey: func(key string) (string, string, any) {
				return http.MethodPost, "/get-key", map[string]any{"productId": prod, "licenseKey": key}
			},
		},
	} {
		t.Run(ps.api, func(t *testing.T) {
			p := startServe(t, filepath.Join(t.TempDir(), "url"), env(nil), "-api", ps.api,
				"-token", admin, "-token", readOnly+":licenses:read", "-token", client+":licenses:activate", "-product", prod)
			defer p.stop()
			call := func(step, method, path, token string, body any) map[string]any {
				t.Helper()
				status, got := sdkCall(t, p.url, method, path, token, body)
				if status != http.StatusOK {
					t.Fatalf("%s: %s %s answered %d %v", step, method, path, status, got)
				}
				if got["code"] != 0.0 {
					t.Fatalf("%s: code %v, want 0: %v", step, got["code"], got)
				}
				return got
			}
			license := func(step, key string) (lic, customer map[string]any) {
				t.Helper()
				method, path, body := ps.getKey(key)
				got := call(step, method, path, readOnly, body)
				data, _ := got["data"].(map[string]any)
				lic, _ = data["license"].(map[string]any)
				customer, _ = data["customer"].(map[string]any)
				if lic == nil {
					t.Fatalf("%s: no data.license in %v", step, got)
				}
				return lic, customer
			}
			field := func(lic map[string]any, snake, camel string) any {
				if ps.api == "v1" {
					return lic[snake]
				}
				return lic[camel]
			}

			// create: the admin token makes a key with 2 seats and metadata.
			created := call("create", http.MethodPost, ps.create, admin, map[string]any{
				"productId": prod, "maxActivations": "2", "metadata": map[string]any{"purpose": "sdk-live-test", "runId": "0123456789"},
			})
			key, _ := created["key"].(string)
			if key == "" || len(created) != 2 {
				t.Fatalf("create answered %v, want {code:0, key}", created)
			}
			// A client or read-only token may not create keys.
			for _, token := range []string{readOnly, client} {
				if status, got := sdkCall(t, p.url, http.MethodPost, ps.create, token, map[string]any{"productId": prod}); status != 403 ||
					got["message"] != "Insufficient permissions for this operation" {
					t.Errorf("create with a token without licenses:write: %d %v", status, got)
				}
			}

			// read-only lookup.
			lic, customer := license("read-only lookup", key)
			if field(lic, "product_id", "productId") != prod || lic["key"] != key || field(lic, "max_activations", "maxActivations") != 2.0 ||
				lic["activations"] != 0.0 || lic["activated"] != true || customer != nil {
				t.Fatalf("lookup of the new key: license %v, customer %v", lic, customer)
			}
			if exp, _ := field(lic, "expiration_date", "expirationDate").(string); !regexp.MustCompile(`^\d{4}-\d\d-\d\dT`).MatchString(exp) {
				t.Errorf("the new key's expiry = %v, want a date a month on", exp)
			}

			// activate, with the client token.
			activate := func(step string) {
				got := call(step, http.MethodPost, ps.activate, client, map[string]any{"productId": prod, "licenseKey": key, "hostId": host, "deviceTag": "Go SDK CI"})
				if got["message"] != "License valid" {
					t.Errorf("%s: message %v", step, got["message"])
				}
				if ps.api == "v2" {
					if m, _ := got["metadata"].(map[string]any); m["hostId"] != host {
						t.Errorf("%s: metadata.hostId = %v, want %s", step, got["metadata"], host)
					}
				}
			}
			activate("activate")
			// re-activate: the same host again succeeds and takes no second seat.
			activate("re-activate")
			if lic, _ := license("after re-activation", key); lic["activations"] != 1.0 {
				t.Errorf("after activating one host twice: %v activations, want 1", lic["activations"])
			}

			// deactivate the host, with the client token.
			got := call("deactivate", http.MethodPost, ps.deactivate, client, map[string]any{"productId": prod, "licenseKey": key, "hostId": host})
			if got["message"] != "Device deactivated" {
				t.Errorf("deactivate: %v", got)
			}
			if ps.api == "v2" && got["devicesRemoved"] != 1.0 {
				t.Errorf("deactivate: devicesRemoved = %v, want 1", got["devicesRemoved"])
			}
			if lic, _ := license("after deactivation", key); lic["activations"] != 0.0 {
				t.Errorf("after deactivation: %v activations", lic["activations"])
			}

			// update: the seat limit to 3, as a number, as the SDK sends it.
			got = call("update", http.MethodPatch, "/key", admin, map[string]any{"productId": prod, "licenseKey": key, "maxActivations": 3})
			if got["affectedCount"] != 1.0 {
				t.Errorf("update: %v", got)
			}
			if lic, _ := license("after update", key); field(lic, "max_activations", "maxActivations") != 3.0 {
				t.Errorf("after update: limit %v, want 3", field(lic, "max_activations", "maxActivations"))
			}

			// block: the key can no longer be activated.
			got = call("block", http.MethodPost, ps.block, admin, map[string]any{"productId": prod, "licenseKey": key})
			if got["message"] != "Key blocked" {
				t.Errorf("block: %v", got)
			}
			if status, got := sdkCall(t, p.url, http.MethodPost, ps.activate, client, map[string]any{"productId": prod, "licenseKey": key, "hostId": host}); status != 403 {
				t.Errorf("activating a blocked key: %d %v", status, got)
			}
			if lic, _ := license("after block", key); lic["activated"] != false {
				t.Errorf("after block: activated = %v", lic["activated"])
			}

			// unblock: it can again.
			got = call("unblock", http.MethodPost, ps.unblock, admin, map[string]any{"productId": prod, "licenseKey": key})
			if got["message"] != "Key unblocked" {
				t.Errorf("unblock: %v", got)
			}
			activate("activate after unblock")
			if lic, _ := license("after unblock", key); lic["activated"] != true || lic["activations"] != 1.0 {
				t.Errorf("after unblock: %v", lic)
			}

			// The server's request log never shows the key.
			if strings.Contains(p.stderr.String(), key) {
				t.Errorf("the request log shows the key:\n%s", p.stderr.String())
			}
		})
	}
}

// sdkCall sends a request the way KeyMint's SDKs do (bearer token, JSON
// body) and decodes the JSON answer.
func sdkCall(t *testing.T, base, method, path, token string, body any) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, base+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatalf("%s %s: the answer is not a JSON object: %v", method, path, err)
	}
	return resp.StatusCode, got
}

// TestSeatsCommandShowsBlockedKeys: a key blocked through the API is marked
// in the seat table and in its summary line.
func TestSeatsCommandShowsBlockedKeys(t *testing.T) {
	srv := seatsServer(t)
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	if err := srv.ActivateDevice(product, keyFull, "runner-1", "", "192.0.2.7"); err != nil {
		t.Fatal(err)
	}
	if status, got := sdkCall(t, ts.URL, http.MethodPost, "/key/block", token, map[string]any{"productId": product, "licenseKey": keyFull}); status != 200 {
		t.Fatalf("block: %d %v", status, got)
	}
	code, out, errOut := runCmd(t.Context(), env(nil), "seats", "-url", ts.URL, "-token", token)
	full := localserver.MaskKey(keyFull)
	if code != 0 || !strings.Contains(out, full+" (blocked)  runner-1") || !strings.Contains(out, full+"  1/3 seats in use (blocked)") {
		t.Errorf("exit %d, stderr %q, stdout:\n%s", code, errOut, out)
	}
}
