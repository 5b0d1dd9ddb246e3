package releasenotes

import (
	"os"
	"strings"
	"testing"
)

const changelog = `# Changelog

Intro.

## 0.2.0 (Unreleased)

FEATURES:

* **New Resource:** ` + "`keymint_license_key`" + `

## 0.1.0 (March 3, 2027)

BUG FIXES:

* resource/keymint_device_activation: fixed.

## 0.0.9

* older
`

func TestSection(t *testing.T) {
	for _, tc := range []struct{ version, want string }{
		{"v0.2.0", "FEATURES:\n\n* **New Resource:** `keymint_license_key`\n"},
		{"0.1.0", "BUG FIXES:\n\n* resource/keymint_device_activation: fixed.\n"},
		{"v0.0.9", "* older\n"},
	} {
		got, err := Section([]byte(changelog), tc.version)
		if err != nil {
			t.Fatalf("%s: %v", tc.version, err)
		}
		if got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.version, got, tc.want)
		}
	}
}

func TestSectionRefuses(t *testing.T) {
	for _, tc := range []struct{ name, changelog, version, want string }{
		{"missing", changelog, "v1.0.0", "no section for 1.0.0"},
		{"prefix is not a match", changelog, "v0.1", "no section for 0.1"},
		{"empty", "## 1.0.0 (Unreleased)\n\n## 0.9.0\n* x\n", "v1.0.0", "section for 1.0.0 is empty"},
		{"twice", "## 1.0.0\n* a\n## 1.0.0\n* b\n", "1.0.0", "2 sections for 1.0.0"},
		{"no version", changelog, " ", "no version"},
	} {
		_, err := Section([]byte(tc.changelog), tc.version)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

// TestRepositoryChangelog: the repository's own CHANGELOG.md has a
// non-empty section for the release in preparation, which the release
// workflow publishes as its notes.
func TestRepositoryChangelog(t *testing.T) {
	data, err := os.ReadFile("../../CHANGELOG.md")
	if err != nil {
		t.Fatal(err)
	}
	var unreleased string
	for _, line := range strings.Split(string(data), "\n") {
		if m := heading.FindStringSubmatch(line); m != nil && m[2] == "Unreleased" {
			unreleased = m[1]
			break
		}
	}
	if unreleased == "" {
		t.Fatal(`CHANGELOG.md has no "## X.Y.Z (Unreleased)" section for the next release`)
	}
	if _, err := Section(data, "v"+unreleased); err != nil {
		t.Fatal(err)
	}
}
