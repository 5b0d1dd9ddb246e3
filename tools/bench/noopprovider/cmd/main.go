// Command noopprovider serves the no-op KeyMint provider of package
// noopprovider, the benchmark's floor. Build it as terraform-provider-keymint
// in a directory of its own and point a dev_overrides entry for
// keymint-dev/keymint at that directory.
package main

import (
	"log"

	"github.com/keymint-dev/terraform-provider-keymint/internal/pluginserver"
	"github.com/keymint-dev/terraform-provider-keymint/tools/bench/noopprovider"
)

// main serves the floor exactly as the real provider is served (logging
// policy, context releases), so that the two differ only in their own work.
func main() {
	if err := pluginserver.Serve(noopprovider.New, "registry.terraform.io/keymint-dev/keymint", false); err != nil {
		log.Fatal(err)
	}
}
