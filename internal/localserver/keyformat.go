package localserver

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Key formats. KeyMint generates license keys in a format its customers
// choose: 1 to 10 sections of 1 to 32 characters, a separator of up to 3
// characters between them, a prefix and a suffix of up to 16 characters
// each, drawn from a character set, in upper, lower or mixed case. Without
// a format, keys look like the docs' T8XTR-AI21B-2990H-85SB5: 4 sections
// of 5 upper-case letters and digits, separated by "-".
//
// KeyMint does not document the names of its character sets; this server
// knows the ones in charsets below and refuses any other name, so that a
// misspelled set is noticed rather than read as a list of characters.

// keyFormat is a validated key format.
type keyFormat struct {
	Sections      int
	SectionLength int
	Separator     string
	Charset       string // a name in charsets
	Prefix        string
	Suffix        string
	Case          string // caseUpper, caseLower or caseMixed
}

// The values of keyFormat.Case.
const (
	caseUpper = "upper"
	caseLower = "lower"
	caseMixed = "mixed"
)

// charsets are the character sets a format may name, before its case is
// applied.
var charsets = map[string]string{
	"alphanumeric": "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
	"alphabetic":   "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
	"numeric":      "0123456789",
	"hex":          "0123456789ABCDEF",
}

// charsetNames lists the names of charsets for messages.
const charsetNames = "alphanumeric, alphabetic, numeric, hex"

// defaultKeyFormat is the format of keys created without one.
var defaultKeyFormat = keyFormat{Sections: 4, SectionLength: 5, Separator: "-", Charset: "alphanumeric", Case: caseUpper}

// formatRequest is the "format" object of a create request; absent fields
// take the default format's values.
type formatRequest struct {
	Sections      *int    `json:"sections"`
	SectionLength *int    `json:"sectionLength"`
	Separator     *string `json:"separator"`
	Charset       *string `json:"charset"`
	Prefix        *string `json:"prefix"`
	Suffix        *string `json:"suffix"`
	Case          *string `json:"case"`
}

// Limits of a key format.
const (
	maxSections      = 10
	maxSectionLength = 32
	maxSeparator     = 3
	maxAffix         = 16
)

// formatError is a 400 answer about the format object.
func formatError(format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, codeRequest, "format." + fmt.Sprintf(format, args...)}
}

// keyFormat returns the validated format q describes (nil: the default).
func (q *formatRequest) keyFormat() (keyFormat, error) {
	f := defaultKeyFormat
	if q == nil {
		return f, nil
	}
	if q.Sections != nil {
		f.Sections = *q.Sections
	}
	if q.SectionLength != nil {
		f.SectionLength = *q.SectionLength
	}
	for _, s := range []struct {
		dst *string
		src *string
	}{{&f.Separator, q.Separator}, {&f.Charset, q.Charset}, {&f.Prefix, q.Prefix}, {&f.Suffix, q.Suffix}, {&f.Case, q.Case}} {
		if s.src != nil {
			*s.dst = *s.src
		}
	}
	switch {
	case f.Sections < 1 || f.Sections > maxSections:
		return f, formatError("sections must be 1-%d", maxSections)
	case f.SectionLength < 1 || f.SectionLength > maxSectionLength:
		return f, formatError("sectionLength must be 1-%d", maxSectionLength)
	case charsets[strings.ToLower(f.Charset)] == "":
		return f, formatError("charset must be one of %s", charsetNames)
	}
	f.Charset = strings.ToLower(f.Charset)
	switch f.Case = strings.ToLower(f.Case); f.Case {
	case caseUpper, caseLower, caseMixed:
	default:
		return f, formatError("case must be upper, lower or mixed")
	}
	for _, a := range []struct {
		name, value string
		max         int
	}{{"separator", f.Separator, maxSeparator}, {"prefix", f.Prefix, maxAffix}, {"suffix", f.Suffix, maxAffix}} {
		if utf8.RuneCountInString(a.value) > a.max {
			return f, formatError("%s must be at most %d characters", a.name, a.max)
		}
		if !utf8.ValidString(a.value) || strings.ContainsFunc(a.value, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) {
			return f, formatError("%s must hold printable characters other than spaces", a.name)
		}
	}
	if n := f.length(); n > licenseKeyField.max {
		return f, formatError("describes keys of %d characters; license keys have at most %d", n, licenseKeyField.max)
	}
	return f, nil
}

// length is the number of characters of the keys of f.
func (f keyFormat) length() int {
	return utf8.RuneCountInString(f.Prefix) + utf8.RuneCountInString(f.Suffix) +
		f.Sections*f.SectionLength + (f.Sections-1)*utf8.RuneCountInString(f.Separator)
}

// generate returns a random key of format f.
func (f keyFormat) generate() string {
	set := charsets[f.Charset]
	var b strings.Builder
	b.WriteString(f.Prefix)
	for i := range f.Sections {
		if i > 0 {
			b.WriteString(f.Separator)
		}
		for range f.SectionLength {
			c := rune(set[randomInt(len(set))])
			switch {
			case f.Case == caseLower, f.Case == caseMixed && randomInt(2) == 0:
				c = unicode.ToLower(c)
			}
			b.WriteRune(c)
		}
	}
	b.WriteString(f.Suffix)
	return b.String()
}

// randomInt returns a uniformly random int in [0, n).
func randomInt(n int) int {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil { // crypto/rand does not fail
		panic(err)
	}
	return int(v.Int64())
}
