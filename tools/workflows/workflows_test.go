// Package workflows checks the repository's GitHub workflows for what
// actionlint does not enforce: every action pinned to a full commit SHA with
// its version in a comment, and least-privilege permissions on every job.
package workflows

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// pinned is a `uses:` of a remote action pinned to a commit, followed by a
// comment naming the version: owner/repo[/path]@<40 hex> # v1.2.3
var pinned = regexp.MustCompile(`^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$`)

var versionComment = regexp.MustCompile(`^# v\d+(\.\d+){0,2}$`)

func workflowFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("../../.github/workflows/*.y*ml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no workflow under .github/workflows")
	}
	return files
}

func parse(t *testing.T, file string) *yaml.Node {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		t.Fatalf("%s: not a YAML mapping", file)
	}
	return doc.Content[0]
}

// get returns the value of key in a mapping node, or nil.
func get(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// TestActionsPinnedToCommits: a tag can be moved to other code; a commit
// SHA cannot. The comment keeps the version readable and lets Dependabot
// update both.
func TestActionsPinnedToCommits(t *testing.T) {
	for _, file := range workflowFiles(t) {
		root := parse(t, file)
		jobs := get(root, "jobs")
		if jobs == nil {
			t.Errorf("%s: no jobs", file)
			continue
		}
		for i := 0; i+1 < len(jobs.Content); i += 2 {
			name, job := jobs.Content[i].Value, jobs.Content[i+1]
			uses := []*yaml.Node{get(job, "uses")} // a reusable workflow
			if steps := get(job, "steps"); steps != nil {
				for _, step := range steps.Content {
					uses = append(uses, get(step, "uses"))
				}
			}
			for _, u := range uses {
				if u == nil || strings.HasPrefix(u.Value, "./") {
					continue // no action, or one of this repository
				}
				if !pinned.MatchString(u.Value) {
					t.Errorf("%s: job %s: %q is not pinned to a full commit SHA (owner/repo@<40 hex digits> # vX.Y.Z)", file, name, u.Value)
				}
				if !versionComment.MatchString(strings.TrimSpace(u.LineComment)) {
					t.Errorf("%s: job %s: %q has no version comment (# vX.Y.Z) after its SHA, but %q", file, name, u.Value, u.LineComment)
				}
			}
		}
	}
}

// TestJobsSetPermissions: the workflow grants nothing by default
// (permissions: {}) and every job asks for what it needs, so that a job
// never runs with the repository's default token permissions.
func TestJobsSetPermissions(t *testing.T) {
	for _, file := range workflowFiles(t) {
		root := parse(t, file)
		if p := get(root, "permissions"); p == nil || p.Kind != yaml.MappingNode || len(p.Content) != 0 {
			t.Errorf("%s: the workflow's top-level permissions must be {} (each job then asks for its own)", file)
		}
		jobs := get(root, "jobs")
		for i := 0; jobs != nil && i+1 < len(jobs.Content); i += 2 {
			name, job := jobs.Content[i].Value, jobs.Content[i+1]
			p := get(job, "permissions")
			if p == nil {
				t.Errorf("%s: job %s sets no permissions", file, name)
				continue
			}
			if p.Kind == yaml.ScalarNode && (p.Value == "write-all" || p.Value == "read-all") {
				t.Errorf("%s: job %s asks for %s; list the scopes it needs", file, name, p.Value)
			}
			for j := 0; p.Kind == yaml.MappingNode && j+1 < len(p.Content); j += 2 {
				if p.Content[j+1].Value == "write" && p.Content[j].Value != "contents" {
					t.Errorf("%s: job %s asks to write %s; only the release job writes, and only contents", file, name, p.Content[j].Value)
				}
			}
		}
	}
}
