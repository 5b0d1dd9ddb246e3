// Package releasenotes takes a release's notes from CHANGELOG.md: the
// section whose heading names the version ("## 0.1.0 (Unreleased)" or
// "## 0.1.0 (March 3, 2027)"). The release workflow publishes it as the
// GitHub release's notes, so that the changelog is written once.
package releasenotes

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"strings"
)

// heading matches a version section's heading: "## 0.1.0" with an optional
// "(…)" after it.
var heading = regexp.MustCompile(`^## v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)(?:\s+\(([^)]*)\))?\s*$`)

// Section returns the body of the changelog section of version (a tag such
// as "v0.1.0", or "0.1.0"), without its heading and surrounding blank
// lines. It fails when no section names the version, when two do, or when
// the section is empty, so that a release never goes out with no notes.
func Section(changelog []byte, version string) (string, error) {
	want := strings.TrimPrefix(strings.TrimSpace(version), "v")
	if want == "" {
		return "", fmt.Errorf("no version given")
	}
	var (
		body    []string
		found   int
		inside  bool
		scanner = bufio.NewScanner(bytes.NewReader(changelog))
	)
	for scanner.Scan() {
		line := scanner.Text()
		if strings.HasPrefix(line, "## ") {
			inside = false
			if m := heading.FindStringSubmatch(line); m != nil && m[1] == want {
				found++
				inside = true
			}
			continue
		}
		if inside {
			body = append(body, line)
		}
	}
	if err := scanner.Err(); err != nil {
		return "", err
	}
	switch {
	case found == 0:
		return "", fmt.Errorf("CHANGELOG.md has no section for %s: add a heading \"## %s (Month D, YYYY)\" above its entries", want, want)
	case found > 1:
		return "", fmt.Errorf("CHANGELOG.md has %d sections for %s; keep one", found, want)
	}
	notes := strings.TrimSpace(strings.Join(body, "\n"))
	if notes == "" {
		return "", fmt.Errorf("CHANGELOG.md's section for %s is empty", want)
	}
	return notes + "\n", nil
}
