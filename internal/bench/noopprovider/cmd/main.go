// Command noopprovider serves the no-op KeyMint provider of package
// noopprovider, the benchmark's floor. Build it as terraform-provider-keymint
// in a directory of its own and point a dev_overrides entry for
// keymint-dev/keymint at that directory.
package main

import (
	"context"
	"log"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/keymint-dev/terraform-provider-keymint/internal/bench/noopprovider"
)

func main() {
	err := providerserver.Serve(context.Background(), noopprovider.New, providerserver.ServeOpts{
		Address: "registry.terraform.io/keymint-dev/keymint",
	})
	if err != nil {
		log.Fatal(err)
	}
}
