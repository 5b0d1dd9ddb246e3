// Command schemadump writes the KeyMint provider's schemas in the JSON
// format of `terraform providers schema -json`, for tfplugindocs's
// --providers-schema flag, without running a Terraform CLI (see package
// schemadump for why):
//
//	go run ./tools/schemadump/cmd -o schema.json
//
// Without -o the JSON goes to stdout.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/keymint-dev/terraform-provider-keymint/internal/provider"
	"github.com/keymint-dev/terraform-provider-keymint/tools/schemadump"
)

// providerName is the provider_schemas key tfplugindocs looks up: the name
// it is given with --provider-name.
const providerName = "keymint"

func main() {
	out := flag.String("o", "", "write the JSON to this file instead of stdout")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("schemadump: ")
	if err := run(context.Background(), *out); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, out string) error {
	// The version is not part of any schema, so the release's is not needed.
	server, err := providerserver.NewProtocol6WithError(provider.New("dev")())()
	if err != nil {
		return fmt.Errorf("starting the provider server: %w", err)
	}
	schemas, err := schemadump.ProviderSchemas(ctx, server, providerName)
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(schemas, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the schemas: %w", err)
	}
	data = append(data, '\n')
	if out == "" {
		_, err = os.Stdout.Write(data)
		return err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	return os.WriteFile(out, data, 0o644)
}
