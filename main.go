// Command terraform-provider-keymint is the KeyMint Terraform provider.
package main

import (
	"flag"
	"log"

	"github.com/keymint-dev/terraform-provider-keymint/internal/pluginserver"
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

	if err := pluginserver.Serve(provider.New(version), registryAddress, debug); err != nil {
		log.Fatal(err)
	}
}
