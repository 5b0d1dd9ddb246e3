// Command terraform-provider-keymint is the KeyMint Terraform provider.
package main

import (
	"context"
	"flag"
	"log"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/keymint-dev/terraform-provider-keymint/internal/provider"
)

// version is set by the release build (-ldflags "-X main.version=…").
var version = "dev"

// registryAddress is the provider's source address.
const registryAddress = "registry.terraform.io/keymint-dev/keymint"

func main() {
	var debug bool
	flag.BoolVar(&debug, "debug", false, "run the provider with support for debuggers like delve")
	flag.Parse()

	err := providerserver.Serve(context.Background(), provider.New(version), providerserver.ServeOpts{
		Address: registryAddress,
		Debug:   debug,
	})
	if err != nil {
		log.Fatal(err)
	}
}
