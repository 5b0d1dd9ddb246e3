package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"text/tabwriter"

	"github.com/keymint-dev/terraform-provider-keymint/internal/localserver"
)

func faults(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("faults", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sf serverFlags
	sf.register(fs)
	set := fs.String("set", "", "replace the fault configuration with this `JSON` object; fields left out are zero,\n"+
		`durations are strings (e.g. '{"server_error_rate":0.1,"latency":"50ms"}')`)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: keymint-local faults [flags]\n\nShows, or with -set replaces, the fault injection of a running keymint-local server, and its fault stats.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	c, err := sf.client(getenv)
	if err != nil {
		return err
	}
	var report localserver.FaultReport
	if *set != "" {
		err = c.do(ctx, http.MethodPut, "/_local/faults", []byte(*set), &report)
	} else {
		err = c.do(ctx, http.MethodGet, "/_local/faults", nil, &report)
	}
	if err != nil {
		return err
	}
	return printFaults(stdout, report)
}

// printFaults writes the fault configuration, a blank line and the stats,
// one "name  value" line each, named as in JSON.
func printFaults(w io.Writer, r localserver.FaultReport) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	c, st := r.Config, r.Stats
	fmt.Fprintf(tw, "server_error_rate\t%g\n", c.ServerErrorRate)
	fmt.Fprintf(tw, "rate_limit_rate\t%g\n", c.RateLimitRate)
	fmt.Fprintf(tw, "retry_after\t%s\n", c.RetryAfter)
	fmt.Fprintf(tw, "latency\t%s\n", c.Latency)
	fmt.Fprintf(tw, "lost_answer_rate\t%g\n", c.LostAnswerRate)
	fmt.Fprintf(tw, "seed\t%d\n", c.Seed)
	fmt.Fprintln(tw)
	fmt.Fprintf(tw, "requests\t%d\n", st.Requests)
	fmt.Fprintf(tw, "server_errors\t%d\n", st.ServerErrors)
	fmt.Fprintf(tw, "rate_limited\t%d\n", st.RateLimited)
	fmt.Fprintf(tw, "lost_answers\t%d\n", st.LostAnswers)
	return tw.Flush()
}
