// Command releasenotes writes the CHANGELOG.md section of a version, for
// the release workflow: go run ./tools/cmd/releasenotes -version v0.1.0 -o notes.md
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/keymint-dev/terraform-provider-keymint/tools/releasenotes"
)

func main() {
	version := flag.String("version", "", "the release's `tag` or version, such as v0.1.0")
	changelog := flag.String("changelog", "CHANGELOG.md", "the changelog `file`")
	out := flag.String("o", "", "write the notes to `file` (default: standard output)")
	flag.Parse()

	data, err := os.ReadFile(*changelog)
	if err == nil {
		var notes string
		if notes, err = releasenotes.Section(data, *version); err == nil {
			if *out == "" {
				_, err = fmt.Print(notes)
			} else {
				err = os.WriteFile(*out, []byte(notes), 0o644)
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "releasenotes:", err)
		os.Exit(1)
	}
}
