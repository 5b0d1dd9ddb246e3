// Command keymint-local runs the in-memory KeyMint-compatible licensing API
// of package localserver, lists the seats a running one holds, and shows or
// changes its fault injection.
//
//	go run ./cmd/keymint-local serve [flags]
//	go run ./cmd/keymint-local seats [flags]
//	go run ./cmd/keymint-local faults [flags]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usageText = `keymint-local: a local, in-memory KeyMint licensing API for tests and demos.

Usage:
  keymint-local serve [flags]    run the server (generation-1 paths in snake_case
                                 and generation-2 paths in camelCase, one port,
                                 or only one generation with -api v1|v2): keys
                                 are created, read, updated, blocked and
                                 unblocked, and devices activated and deactivated
  keymint-local seats [flags]    list the seats and licenses of a running server
  keymint-local faults [flags]   show or replace (-set) a running server's fault
                                 injection, with its fault stats
  keymint-local usage            show this help

Run "keymint-local COMMAND -h" for the flags of a command. Like the hosted
service, serve limits each token's requests (-rate-limit N/DURATION), gives
tokens scopes (-token TOKEN:SCOPE,...) and answers unknown paths from its
web front end (404 {"message":"Cannot POST /path","error":"Not Found",
"statusCode":404}, without KeyMint's "code"). It can also inject faults
(-fault-5xx, -fault-429, -fault-retry-after, -fault-latency, -fault-lost,
-fault-seed), so that tests can prove a client loses nothing when the
service fails.

Example:
  keymint-local serve -token at_local_dev_token_123456 \
    -product prod_0123456789abcdefghijk \
    -customer "Jane Doe <jane@example.com>" \
    -license lk_0123456789abcdefghijkl=3 \
    -addr 127.0.0.1:0 -addr-file /tmp/keymint.url
  keymint-local seats -url "$(cat /tmp/keymint.url)" -token at_local_dev_token_123456
  keymint-local faults -url "$(cat /tmp/keymint.url)" -token at_local_dev_token_123456 \
    -set '{"server_error_rate":0.1,"lost_answer_rate":0.05,"latency":"20ms","seed":7}'
`

// serveUsageHead and serveUsageTail are the text of "serve -h" before and
// after its flags.
const (
	serveUsageHead = `Usage: keymint-local serve [flags]

Runs the local KeyMint API until SIGINT or SIGTERM. Like the hosted service:
  - each access token may send N API requests in any DURATION (-rate-limit,
    a sliding window); the next ones are answered 429 with a Retry-After
    until the oldest leaves the window;
  - tokens carry scopes (-token TOKEN:SCOPE,...): get-key needs
    licenses:read, activate and deactivate need licenses:activate, create
    and update need licenses:write, block and unblock need licenses:block;
    a call without its scope is answered 403 {"message":"Insufficient
    permissions for this operation","code":1}, and still counts against
    the rate limit;
  - keys are created (POST /create-key, POST /key: {"code":0,"key":"…"},
    in the format the request names, expiring a month after creation
    unless expiryDate says otherwise, for a customerId or a newCustomer),
    updated (PATCH /key, in both generations), blocked and unblocked
    (POST /block-key, /unblock-key, /key/block, /key/unblock; doing it
    twice changes nothing); keys cannot be deleted, only blocked. A create
    with an Idempotency-Key header is answered again, without a second
    key, when repeated with the same body within a day;
  - paths it does not serve, such as the other generation's with -api, are
    answered by the web front end, not by KeyMint: 404 {"message":"Cannot
    POST /path","error":"Not Found","statusCode":404}, without a "code".
The /_local/ aids (seats, licenses, calls, faults, rate-limit) take any
valid token and are not rate limited.

Flags:
`
	serveUsageTail = `
Example: generation 2 only, 3 requests per token in any 3 seconds, an admin
token with every scope and a client token that may only activate and
deactivate, as shipped inside desktop apps:

  keymint-local serve -api v2 -rate-limit 3/3s \
    -token at_local_admin_token_123456 \
    -token at_local_client_token_12345:licenses:activate \
    -product prod_0123456789abcdefghijk -license 0B4ADFD8-8C47ECD0=3 \
    -addr 127.0.0.1:0 -addr-file /tmp/keymint.url

A -seed file lists tokens the same way:
  {"access_tokens": ["at_admin..."],
   "tokens": [{"token": "at_client...", "scopes": ["licenses:activate"]},
              {"token": "at_ro...", "scopes": ["licenses:read"]}],
   "products": [{"id": "prod_...", "licenses": [{"key": "...", "max_activations": 3}]}]}
`
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// run executes the command line args and returns the exit code. serve runs
// until ctx is done.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = serve(ctx, args[1:], stdout, stderr, getenv)
	case "seats":
		err = seats(ctx, args[1:], stdout, stderr, getenv)
	case "faults":
		err = faults(ctx, args[1:], stdout, stderr, getenv)
	case "usage", "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usageText)
		return 0
	default:
		fmt.Fprintf(stderr, "keymint-local: unknown command %q\n\n%s", args[0], usageText)
		return 2
	}
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	case err != nil:
		fmt.Fprintf(stderr, "keymint-local %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

// errUsage reports a command line the flag package rejected; the flag
// package has printed the reason already.
var errUsage = errors.New("usage error")

// parseFlags parses args with fs, mapping the flag package's errors to
// flag.ErrHelp and errUsage.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected argument after the flags (%d extra)\n", fs.NArg())
		fs.Usage()
		return errUsage
	}
	return nil
}
