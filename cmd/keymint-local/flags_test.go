package main

import (
	"io"
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
