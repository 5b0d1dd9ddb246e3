package localserver

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/keymint-dev/terraform-provider-keymint/internal/keymint"
)

// The scopes of KeyMint access tokens. A token created in KeyMint's
// dashboard carries some of them; a call without the scope it needs is
// answered 403 {"message":"Insufficient permissions for this operation",
// "code":1}. Of the calls this server answers, get-key needs
// ScopeLicensesRead, activate and deactivate need ScopeLicensesActivate,
// create and update need ScopeLicensesWrite, and block and unblock need
// ScopeLicensesBlock (in both generations). The other scopes are accepted
// and kept, but no call of this server needs them; in particular a
// ScopeProductsSpecific token is not limited to some products here, and
// creating a key with a newCustomer needs no customers:write.
const (
	ScopeLicensesRead     = keymint.ScopeLicensesRead
	ScopeLicensesWrite    = "licenses:write"
	ScopeLicensesActivate = keymint.ScopeLicensesActivate
	ScopeLicensesBlock    = "licenses:block"
	ScopeCustomersRead    = "customers:read"
	ScopeCustomersWrite   = "customers:write"
	ScopeCustomersDelete  = "customers:delete"
	ScopeProductsAll      = "products:all"
	ScopeProductsSpecific = "products:specific"
)

// scopeNames lists every scope, in the order of KeyMint's docs; a scope's
// bit in a scopeSet is its index here.
var scopeNames = []string{
	ScopeLicensesRead, ScopeLicensesWrite, ScopeLicensesActivate, ScopeLicensesBlock,
	ScopeCustomersRead, ScopeCustomersWrite, ScopeCustomersDelete,
	ScopeProductsAll, ScopeProductsSpecific,
}

// Scopes returns every scope a token can carry, in the order of KeyMint's
// docs. A token listed in Seed.AccessTokens carries all of them.
func Scopes() []string {
	return append([]string(nil), scopeNames...)
}

// scopeSet is a set of scopes, one bit per scope.
type scopeSet uint16

// allScopes holds every scope.
const allScopes = scopeSet(1)<<9 - 1

// scopeOf returns the set holding only the named scope, or 0 if the name
// is not a scope.
func scopeOf(name string) scopeSet {
	for i, n := range scopeNames {
		if n == name {
			return 1 << i
		}
	}
	return 0
}

// has reports whether s holds every scope of need.
func (s scopeSet) has(need scopeSet) bool { return s&need == need }

// names returns the scopes of s in the order of scopeNames; never nil.
func (s scopeSet) names() []string {
	names := []string{}
	for i, n := range scopeNames {
		if s&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	return names
}

// scopeLike matches what could be a misspelled scope name. Anything else
// (a token pasted in the wrong place, say) is never quoted in an error.
var scopeLike = regexp.MustCompile(`^[a-z_-]{1,24}:[a-z_-]{1,24}$`)

// errNoScopes reports a scoped token without any scope.
var errNoScopes = errors.New("no scope listed")

// ValidateScopes reports whether scopes is a non-empty list of known scope
// names (see Scopes). An unknown name is quoted in the error only if it
// looks like a scope name, so that a token given in its place is never
// shown.
func ValidateScopes(scopes []string) error {
	_, err := parseScopes(scopes)
	return err
}

// parseScopes returns the set of the named scopes; see ValidateScopes.
func parseScopes(scopes []string) (scopeSet, error) {
	if len(scopes) == 0 {
		return 0, errNoScopes
	}
	var set scopeSet
	for i, name := range scopes {
		bit := scopeOf(name)
		if bit == 0 {
			what := fmt.Sprintf("unknown scope %q", name)
			switch {
			case name == "":
				what = "empty scope name"
			case !scopeLike.MatchString(name):
				what = fmt.Sprintf("unknown scope (the %s of %d, not shown: it does not look like a scope name)", ordinal(i+1), len(scopes))
			}
			return 0, fmt.Errorf("%s; the scopes are %s", what, strings.Join(scopeNames, ", "))
		}
		set |= bit
	}
	return set, nil
}

// ordinal returns n as an English ordinal: 1st, 2nd, 3rd, 4th, ...
func ordinal(n int) string {
	suffix := "th"
	switch {
	case n%100 >= 11 && n%100 <= 13:
	case n%10 == 1:
		suffix = "st"
	case n%10 == 2:
		suffix = "nd"
	case n%10 == 3:
		suffix = "rd"
	}
	return fmt.Sprint(n, suffix)
}
