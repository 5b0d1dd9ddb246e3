package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// manifestFile is the registry manifest a release ships, as
// <project>_<version>_manifest.json.
const manifestFile = "terraform-registry-manifest.json"

// cmdReleaseManifest puts the manifest beside the zips of a snapshot in
// dist/. The release job uploads it (release.extra_files in
// .goreleaser.yml); a snapshot publishes nothing, so it is copied here,
// under the name SHA256SUMS lists it by.
func cmdReleaseManifest(_ context.Context, d *dev, _ []string) error {
	dist := filepath.Join(d.root, "dist")
	name, version, err := copyManifest(filepath.Join(d.root, manifestFile), dist)
	if err != nil {
		return err
	}
	step("dist/: release %s", version)
	entries, err := os.ReadDir(dist)
	if err != nil {
		return err
	}
	for _, e := range entries {
		n := e.Name()
		if strings.HasSuffix(n, ".zip") || strings.HasSuffix(n, "_SHA256SUMS") || n == name {
			fmt.Println(filepath.Join("dist", n))
		}
	}
	return nil
}

// copyManifest copies manifest into dist under the name
// <project_name>_<version>_manifest.json, both read from goreleaser's
// dist/metadata.json, and returns that name and the version.
func copyManifest(manifest, dist string) (name, version string, err error) {
	data, err := os.ReadFile(filepath.Join(dist, "metadata.json"))
	if err != nil {
		return "", "", fmt.Errorf("no release in %s: %w", dist, err)
	}
	var meta struct {
		ProjectName string `json:"project_name"`
		Version     string `json:"version"`
	}
	if err := json.Unmarshal(data, &meta); err != nil {
		return "", "", fmt.Errorf("%s/metadata.json: %w", dist, err)
	}
	if meta.ProjectName == "" || meta.Version == "" || slices.ContainsFunc([]string{meta.ProjectName, meta.Version}, func(s string) bool {
		return strings.ContainsAny(s, `/\`)
	}) {
		return "", "", fmt.Errorf("%s/metadata.json names no usable project_name and version: %q, %q", dist, meta.ProjectName, meta.Version)
	}
	content, err := os.ReadFile(manifest)
	if err != nil {
		return "", "", err
	}
	name = meta.ProjectName + "_" + meta.Version + "_manifest.json"
	return name, meta.Version, os.WriteFile(filepath.Join(dist, name), content, 0o644)
}
