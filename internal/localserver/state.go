package localserver

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"

	"github.com/keymint-dev/terraform-provider-keymint/internal/localserver/atomicfile"
)

// stateVersion is the version of the state file format.
const stateVersion = 1

// stateFile is the JSON content of a state file. Tokens with every scope
// are listed in AccessTokens, the others in Tokens, so that a file without
// scoped tokens reads as before scopes existed.
type stateFile struct {
	Version      int            `json:"version"`
	AccessTokens []string       `json:"access_tokens"`
	Tokens       []TokenSeed    `json:"tokens,omitempty"`
	Products     []stateProduct `json:"products"`
}

type stateProduct struct {
	ID       string         `json:"id"`
	Licenses []stateLicense `json:"licenses"`
}

type stateLicense struct {
	LicenseSeed
	Devices []Device `json:"devices,omitempty"`
}

// readStateFile reads a state file; a missing file is an fs.ErrNotExist.
func readStateFile(path string) (stateFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return stateFile{}, fmt.Errorf("localserver: read state: %w", err)
	}
	var st stateFile
	if err := json.Unmarshal(data, &st); err != nil {
		return stateFile{}, fmt.Errorf("localserver: state file %s: %w", path, err)
	}
	if st.Version != stateVersion {
		return stateFile{}, fmt.Errorf("localserver: state file %s: unsupported version %d", path, st.Version)
	}
	return st, nil
}

// encodeState returns the JSON form of st.
func encodeState(st stateFile) ([]byte, error) {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("localserver: encode state: %w", err)
	}
	return append(data, '\n'), nil
}

// writeStateFile atomically replaces the state file. The file holds
// secrets, so only its owner may read it.
func writeStateFile(path string, data []byte) error {
	if err := atomicfile.Write(path, data, 0o600); err != nil {
		return fmt.Errorf("localserver: write state: %w", err)
	}
	return nil
}

// restore adds the content of a state file to an empty server and returns
// the set of license keys it contained.
func (s *Server) restore(st stateFile) (map[string]bool, error) {
	keys := map[string]bool{}
	for _, t := range st.AccessTokens {
		s.tokens[t] = allScopes
	}
	for i, t := range st.Tokens {
		scopes, err := parseScopes(t.Scopes)
		if err != nil {
			return nil, fmt.Errorf("localserver: state file %s: tokens[%d]: %w", s.statePath, i, err)
		}
		s.tokens[t.Token] = scopes
	}
	for _, p := range st.Products {
		if err := s.addProduct(p.ID); err != nil {
			return nil, err
		}
		for _, l := range p.Licenses {
			if err := s.insertLicense(p.ID, l.LicenseSeed, l.Devices); err != nil {
				return nil, err
			}
			keys[l.Key] = true
		}
	}
	return keys, nil
}

// snapshotLocked returns the complete state, sorted so that equal states
// give equal files. The caller holds s.mu.
func (s *Server) snapshotLocked() stateFile {
	byProduct := map[string][]stateLicense{}
	for _, l := range s.sortedLicensesLocked() {
		byProduct[l.productID] = append(byProduct[l.productID], stateLicense{LicenseSeed: l.LicenseSeed, Devices: l.devices})
	}
	st := stateFile{Version: stateVersion}
	for _, t := range slices.Sorted(maps.Keys(s.tokens)) {
		if scopes := s.tokens[t]; scopes == allScopes {
			st.AccessTokens = append(st.AccessTokens, t)
		} else {
			st.Tokens = append(st.Tokens, TokenSeed{Token: t, Scopes: scopes.names()})
		}
	}
	for _, id := range slices.Sorted(maps.Keys(s.products)) {
		st.Products = append(st.Products, stateProduct{ID: id, Licenses: byProduct[id]})
	}
	return st
}
