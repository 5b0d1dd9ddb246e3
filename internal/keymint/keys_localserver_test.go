package keymint_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keymint-dev/terraform-provider-keymint/internal/keymint"
	"github.com/keymint-dev/terraform-provider-keymint/internal/localserver"
)

func ptr[T any](v T) *T { return &v }

// TestKeyLifecycleAgainstLocalServer runs the client's lifecycle calls
// against keymint-local's handler, in each generation, with scoped tokens.
func TestKeyLifecycleAgainstLocalServer(t *testing.T) {
	const (
		admin  = "at_client_keys_admin_0123456789"
		reader = "at_client_keys_reader_012345678"
		prod   = "prod_client_keys_0123456789"
	)
	for _, api := range []string{localserver.APIv1, localserver.APIv2} {
		t.Run(api, func(t *testing.T) {
			srv, err := localserver.New(localserver.Options{API: api, Seed: localserver.Seed{
				AccessTokens: []string{admin},
				Tokens:       []localserver.TokenSeed{{Token: reader, Scopes: []string{localserver.ScopeLicensesRead}}},
				Products:     []localserver.ProductSeed{{ID: prod}},
			}})
			if err != nil {
				t.Fatal(err)
			}
			hs := httptest.NewServer(srv.Handler())
			t.Cleanup(hs.Close)
			newClient := func(token, version string) *keymint.Client {
				c, err := keymint.New(keymint.Config{BaseURL: hs.URL, AccessToken: token, APIVersion: version, MaxRetries: ptr(0), FreshReads: true})
				if err != nil {
					t.Fatal(err)
				}
				return c
			}
			ctx := context.Background()
			c := newClient(admin, keymint.APIAuto) // finds the generation by itself
			created, err := c.CreateKey(ctx, keymint.CreateKeyInput{ProductID: prod, MaxActivations: ptr(int64(3)), NewCustomer: &keymint.NewCustomer{Name: "Acme", Email: "it@acme.example"}})
			if err != nil {
				t.Fatal(err)
			}
			lic, err := c.GetKey(ctx, prod, created.Key)
			if err != nil || lic.MaxActivations == nil || *lic.MaxActivations != 3 || lic.Customer == nil || lic.Customer.Name != "Acme" || lic.ExpirationDate == "" {
				t.Fatalf("created key reads %+v, %v", lic, err)
			}
			if c.APIVersionInUse() != api {
				t.Errorf("the client uses %s against a %s server", c.APIVersionInUse(), api)
			}
			if err := c.UpdateKey(ctx, keymint.UpdateKeyInput{ProductID: prod, LicenseKey: created.Key, SetMaxActivations: true}); err != nil {
				t.Fatal(err)
			}
			if err := c.BlockKey(ctx, prod, created.Key); err != nil {
				t.Fatal(err)
			}
			lic, _ = c.GetKey(ctx, prod, created.Key)
			if lic.MaxActivations != nil || lic.Activated {
				t.Errorf("after update and block: limit %v, activated %v", lic.MaxActivations, lic.Activated)
			}
			// Idempotent block, then unblock.
			if err := c.BlockKey(ctx, prod, created.Key); err != nil {
				t.Errorf("blocking twice: %v", err)
			}
			if err := c.UnblockKey(ctx, prod, created.Key); err != nil {
				t.Fatal(err)
			}
			// A key that does not exist, and a token without the scope.
			err = c.BlockKey(ctx, prod, "NOPE-NOPE-NOPE")
			if !keymint.IsLicenseNotFound(err) {
				t.Errorf("blocking an unknown key: %v", err)
			}
			err = newClient(reader, api).UpdateKey(ctx, keymint.UpdateKeyInput{ProductID: prod, LicenseKey: created.Key, SetMaxActivations: true})
			if !keymint.IsInsufficientScope(err) || !strings.Contains(err.Error(), "update-key needs a token with the licenses:write scope") {
				t.Errorf("update with a read-only token: %v", err)
			}
			_, err = newClient(admin, api).CreateKey(ctx, keymint.CreateKeyInput{ProductID: "prod_unknown_0123456789ab"})
			if !keymint.IsProductNotFound(err) {
				t.Errorf("create for an unknown product: %v", err)
			}
			_, err = c.CreateKey(ctx, keymint.CreateKeyInput{ProductID: prod, NewCustomer: &keymint.NewCustomer{Name: "Other", Email: "it@acme.example"}})
			if !keymint.IsCustomerEmailExists(err) {
				t.Errorf("create with a taken e-mail: %v", err)
			}
			_, err = c.CreateKey(ctx, keymint.CreateKeyInput{ProductID: prod, CustomerID: "cus_nobody"})
			if !keymint.IsCustomerNotFound(err) {
				t.Errorf("create for an unknown customer: %v", err)
			}
		})
	}
}
