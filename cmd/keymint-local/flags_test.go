package main

import (
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keymint-dev/terraform-provider-keymint/internal/localserver"
)

func TestRateLimitFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want localserver.RateLimit
	}{
		{nil, localserver.RateLimit{}},
		{[]string{"-rate-limit", "10/1m"}, localserver.RateLimit{Requests: 10, Window: time.Minute}},
		{[]string{"-rate-limit", "3/3s"}, localserver.RateLimit{Requests: 3, Window: 3 * time.Second}},
		{[]string{"-rate-limit", "20/2s"}, localserver.RateLimit{Requests: 20, Window: 2 * time.Second}},
		{[]string{"-rate-limit", "100"}, localserver.RateLimit{Requests: 100, Window: time.Minute}},
		{[]string{"-rate-limit", "0"}, localserver.RateLimit{}},
		{[]string{"-rate-limit", "5/1s", "-rate-limit", "7/1h"}, localserver.RateLimit{Requests: 7, Window: time.Hour}},
	} {
		cfg, err := parseServeFlags(tc.args, io.Discard)
		if err != nil || cfg.rateLimit != tc.want {
			t.Errorf("%q: %+v, %v; want %+v", tc.args, cfg, err, tc.want)
		}
	}
}

func TestTokenFlag(t *testing.T) {
	const secret = "at_flag_secret_0123456789"
	for _, tc := range []struct {
		name   string
		values []string
		all    []string
		scoped []localserver.TokenSeed
	}{
		{"every scope", []string{secret}, []string{secret}, nil},
		{"one scope", []string{secret + ":licenses:activate"}, nil,
			[]localserver.TokenSeed{{Token: secret, Scopes: []string{localserver.ScopeLicensesActivate}}}},
		{"two scopes", []string{"at_ro:licenses:read,licenses:activate"}, nil,
			[]localserver.TokenSeed{{Token: "at_ro", Scopes: []string{localserver.ScopeLicensesRead, localserver.ScopeLicensesActivate}}}},
		{"spaces around scopes", []string{"at_ro:licenses:read , products:all"}, nil,
			[]localserver.TokenSeed{{Token: "at_ro", Scopes: []string{localserver.ScopeLicensesRead, localserver.ScopeProductsAll}}}},
		{"mixed and repeated", []string{"at_admin", "at_client:licenses:activate", "at_client:licenses:read", "at_other"},
			[]string{"at_admin", "at_other"},
			[]localserver.TokenSeed{
				{Token: "at_client", Scopes: []string{localserver.ScopeLicensesActivate}},
				{Token: "at_client", Scopes: []string{localserver.ScopeLicensesRead}},
			}},
		{"every scope name", []string{"at_all:" + strings.Join(localserver.Scopes(), ",")}, nil,
			[]localserver.TokenSeed{{Token: "at_all", Scopes: localserver.Scopes()}}},
	} {
		var args []string
		for _, v := range tc.values {
			args = append(args, "-token", v)
		}
		cfg, err := parseServeFlags(args, io.Discard)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !slices.Equal(cfg.tokens.all, tc.all) || !reflect.DeepEqual(cfg.tokens.scoped, tc.scoped) {
			t.Errorf("%s: tokens %q, scoped %+v; want %q, %+v", tc.name, cfg.tokens.all, cfg.tokens.scoped, tc.all, tc.scoped)
		}
		seed, err := cfg.seed(env(nil))
		if err != nil || !slices.Equal(seed.AccessTokens, tc.all) || !reflect.DeepEqual(seed.Tokens, tc.scoped) {
			t.Errorf("%s: seed %+v, %v", tc.name, seed, err)
		}
	}

	// Errors are reported after parsing, all of them, and never show a token.
	var stderr strings.Builder
	_, err := parseServeFlags([]string{"-token", secret + ":licenses:reed", "-token", "at_ok", "-token", secret + ":", "-token", "at_y:" + secret}, &stderr)
	if err == nil {
		t.Fatal("parseServeFlags accepted unknown scopes")
	}
	for _, want := range []string{`unknown scope "licenses:reed"`, "no scope after the colon", "not shown"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error()+stderr.String(), secret) {
		t.Errorf("the error shows the token: %v\n%s", err, stderr.String())
	}

	// $KEYMINT_LOCAL_TOKEN takes the same form, and only counts without -token.
	cfg, err := parseServeFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	seed, err := cfg.seed(env(map[string]string{"KEYMINT_LOCAL_TOKEN": "at_env:licenses:read"}))
	if err != nil || len(seed.AccessTokens) != 0 || !reflect.DeepEqual(seed.Tokens, []localserver.TokenSeed{{Token: "at_env", Scopes: []string{"licenses:read"}}}) {
		t.Errorf("token from the environment: %+v, %v", seed, err)
	}
	cfg, _ = parseServeFlags([]string{"-token", "at_flag"}, io.Discard)
	seed, err = cfg.seed(env(map[string]string{"KEYMINT_LOCAL_TOKEN": "at_env:licenses:fly"}))
	if err != nil || !slices.Equal(seed.AccessTokens, []string{"at_flag"}) || len(seed.Tokens) != 0 {
		t.Errorf("-token with the environment set: %+v, %v", seed, err)
	}
}
