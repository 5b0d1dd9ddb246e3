//go:build unix

// Package release checks a release built by `make release-snapshot` (or the
// release job) the way a provider registry and a user will meet it: archive
// names, archive contents, the checksum file, the manifest, and the binary
// itself under the real CLI.
//
// The tests run only when KEYMINT_RELEASE_DIST names goreleaser's output
// directory: `make release-check` sets it.
package release

import (
	"archive/zip"
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/keymint-dev/terraform-provider-keymint/internal/localserver"
	"github.com/keymint-dev/terraform-provider-keymint/tools/clirun"
)

const project = "terraform-provider-keymint"

// dist is the release directory under test, with what goreleaser recorded
// about it.
type dist struct {
	dir      string
	version  string
	archives map[string]string // "os_arch" => archive file name
}

func loadDist(t *testing.T) dist {
	t.Helper()
	dir := os.Getenv("KEYMINT_RELEASE_DIST")
	if dir == "" {
		t.Skip("KEYMINT_RELEASE_DIST is not set; run `make release-check` (it builds the release first)")
	}
	var meta struct {
		Version string `json:"version"`
	}
	readJSON(t, filepath.Join(dir, "metadata.json"), &meta)
	if meta.Version == "" {
		t.Fatalf("%s/metadata.json names no version", dir)
	}
	var artifacts []struct {
		Name   string `json:"name"`
		Path   string `json:"path"`
		Goos   string `json:"goos"`
		Goarch string `json:"goarch"`
		Goarm  string `json:"goarm"`
		Type   string `json:"type"`
	}
	readJSON(t, filepath.Join(dir, "artifacts.json"), &artifacts)
	d := dist{dir: dir, version: meta.Version, archives: map[string]string{}}
	for _, a := range artifacts {
		if a.Type == "Archive" {
			d.archives[a.Goos+"_"+a.Goarch] = a.Name
		}
	}
	if len(d.archives) == 0 {
		t.Fatalf("%s/artifacts.json lists no archive", dir)
	}
	return d
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestArchives: one zip per OS/arch pair, named
// terraform-provider-keymint_<version>_<os>_<arch>.zip, each holding the
// binary terraform-provider-keymint_v<version> (.exe on Windows) and the
// repository's LICENSE, byte for byte, and nothing else.
func TestArchives(t *testing.T) {
	d := loadDist(t)
	wantLicense, err := os.ReadFile("../../LICENSE")
	if err != nil {
		t.Fatal(err)
	}
	versionRE := regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$`)
	if !versionRE.MatchString(d.version) {
		t.Errorf("version %q is not a semantic version without a leading v", d.version)
	}
	for target, name := range d.archives {
		if want := fmt.Sprintf("%s_%s_%s.zip", project, d.version, target); name != want {
			t.Errorf("archive for %s is %s, want %s", target, name, want)
		}
		binary := fmt.Sprintf("%s_v%s", project, d.version)
		if strings.HasPrefix(target, "windows_") {
			binary += ".exe"
		}
		zr, err := zip.OpenReader(filepath.Join(d.dir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		var names []string
		found, license := false, false
		for _, f := range zr.File {
			names = append(names, f.Name)
			switch f.Name {
			case "LICENSE":
				license = true
				if got := readZipFile(t, f); string(got) != string(wantLicense) {
					t.Errorf("%s: LICENSE differs from the repository's LICENSE", name)
				}
			case binary:
			default:
				t.Errorf("%s holds %s; a release archive holds only the binary and LICENSE", name, f.Name)
			}
			if f.Name == binary {
				found = true
				if f.Mode()&0o111 == 0 && !strings.HasPrefix(target, "windows_") {
					t.Errorf("%s: %s is not executable (mode %v)", name, f.Name, f.Mode())
				}
			}
		}
		_ = zr.Close()
		if !found {
			t.Errorf("%s holds %q, want a binary named %s at its root", name, names, binary)
		}
		if !license {
			t.Errorf("%s holds %q, want LICENSE (MPL-2.0) at its root beside the binary", name, names)
		}
	}
	t.Logf("version %s: %d archives", d.version, len(d.archives))
}

// TestChecksumsAndManifest: the SHA256SUMS file lists every archive and the
// manifest, with their true digests, and the manifest says protocol 6.0.
func TestChecksumsAndManifest(t *testing.T) {
	d := loadDist(t)
	sums := filepath.Join(d.dir, fmt.Sprintf("%s_%s_SHA256SUMS", project, d.version))
	f, err := os.Open(sums)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	listed := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 2 || len(fields[0]) != 64 {
			t.Fatalf("%s: malformed line %q", filepath.Base(sums), sc.Text())
		}
		listed[fields[1]] = fields[0]
	}
	manifest := fmt.Sprintf("%s_%s_manifest.json", project, d.version)
	want := []string{manifest}
	for _, name := range d.archives {
		want = append(want, name)
	}
	slices.Sort(want)
	var got []string
	for name := range listed {
		got = append(got, name)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("%s lists %q, want %q", filepath.Base(sums), got, want)
	}
	for name, sum := range listed {
		if actual := sha256File(t, filepath.Join(d.dir, name)); actual != sum {
			t.Errorf("%s: SHA256SUMS says %s, the file's digest is %s", name, sum, actual)
		}
	}

	var m struct {
		Version  int `json:"version"`
		Metadata struct {
			ProtocolVersions []string `json:"protocol_versions"`
		} `json:"metadata"`
	}
	readJSON(t, filepath.Join(d.dir, manifest), &m)
	if m.Version != 1 || !slices.Equal(m.Metadata.ProtocolVersions, []string{"6.0"}) {
		t.Errorf("%s: version %d, protocol_versions %q; want version 1 and [\"6.0\"]", manifest, m.Version, m.Metadata.ProtocolVersions)
	}
}

func sha256File(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestBinaryUnderCLI unpacks the archive for this machine, installs its
// binary through dev_overrides, applies and destroys one activation against
// the bundled server, and checks the User-Agent of every request names the
// release's version.
func TestBinaryUnderCLI(t *testing.T) {
	d := loadDist(t)
	cli := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if cli == "" {
		t.Fatal("TF_ACC_TERRAFORM_PATH must name the Terraform or OpenTofu CLI")
	}
	target := runtime.GOOS + "_" + runtime.GOARCH
	name, ok := d.archives[target]
	if !ok {
		t.Fatalf("no archive for this machine (%s) among %v", target, d.archives)
	}
	pluginDir := t.TempDir()
	unzip(t, filepath.Join(d.dir, name), pluginDir)

	token, product, key := "at_release_0123456789", "prod_release_0123456789ab", "LK-RELEASE-0123456789ABCD"
	srv, err := localserver.New(localserver.Options{Seed: localserver.Seed{
		AccessTokens: []string{token},
		Products:     []localserver.ProductSeed{{ID: product, Licenses: []localserver.LicenseSeed{{Key: key, MaxActivations: new(1)}}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()

	ws, err := clirun.NewWorkspace(t.TempDir(), cli, map[string]string{"keymint-dev/keymint": pluginDir},
		"KEYMINT_BASE_URL="+hs.URL, "KEYMINT_ACCESS_TOKEN="+token,
		"TF_VAR_product_id="+product, "TF_VAR_license_key="+key)
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.WriteFile("main.tf", `
terraform {
  required_providers {
    keymint = { source = "keymint-dev/keymint" }
  }
}
variable "product_id" { type = string }
variable "license_key" {
  type      = string
  sensitive = true
}
resource "keymint_device_activation" "this" {
  product_id  = var.product_id
  license_key = var.license_key
  host_id     = "release-check"
}
`); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for _, args := range [][]string{
		{"apply", "-auto-approve", "-input=false", "-no-color"},
		{"destroy", "-auto-approve", "-input=false", "-no-color"},
	} {
		res, err := ws.Run(ctx, args...)
		if err != nil {
			t.Fatalf("%s: %v\n%s\n%s", args[0], err, res.Stdout, res.Stderr)
		}
		if args[0] == "apply" {
			if devices, _ := srv.Devices(product, key); len(devices) != 1 {
				t.Fatalf("after apply the server holds %d devices, want 1", len(devices))
			}
		}
	}
	if devices, _ := srv.Devices(product, key); len(devices) != 0 {
		t.Fatalf("after destroy the server holds %d devices, want 0", len(devices))
	}

	agents := srv.UserAgents()
	want := "terraform-provider-keymint/" + d.version + " "
	for ua, n := range agents {
		if !strings.HasPrefix(ua, want) {
			t.Errorf("%d requests with User-Agent %q, want it to start with %q", n, ua, want)
		}
	}
	if len(agents) == 0 {
		t.Fatal("the server saw no request")
	}
	t.Logf("%s under %s: User-Agent %v", name, filepath.Base(cli), agents)
}

func unzip(t *testing.T, archive, dir string) {
	t.Helper()
	zr, err := zip.OpenReader(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = zr.Close() }()
	for _, f := range zr.File {
		if strings.Contains(f.Name, "/") || strings.Contains(f.Name, "..") {
			continue // only the files at the root: the binary, README, …
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.OpenFile(filepath.Join(dir, f.Name), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, f.Mode()|0o600)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, rc); err != nil {
			t.Fatal(err)
		}
		_ = rc.Close()
		if err := out.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// readZipFile returns the contents of one file of a zip archive.
func readZipFile(t *testing.T, f *zip.File) []byte {
	t.Helper()
	r, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
