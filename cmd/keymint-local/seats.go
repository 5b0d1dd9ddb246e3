package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"text/tabwriter"
	"time"

	"github.com/keymint-dev/terraform-provider-keymint/internal/localserver"
)

func seats(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("seats", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sf serverFlags
	sf.register(fs)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: keymint-local seats [flags]\n\nLists the seats a running keymint-local server holds, and every license (those created through the API\nincluded) with its seats in use; blocked keys are marked (blocked).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	c, err := sf.client(getenv)
	if err != nil {
		return err
	}
	var rows []localserver.SeatRow
	if err := c.do(ctx, http.MethodGet, "/_local/seats", nil, &rows); err != nil {
		return err
	}
	var licenses []localserver.LicenseRow
	if err := c.do(ctx, http.MethodGet, "/_local/licenses", nil, &licenses); err != nil {
		return err
	}
	return printSeats(stdout, rows, licenses)
}

// printSeats writes a table of the held seats, if any, then a blank line
// and a summary line per license, including those without seats (keys
// created through the API among them). Blocked keys are marked in both.
func printSeats(w io.Writer, rows []localserver.SeatRow, licenses []localserver.LicenseRow) error {
	if len(rows) == 0 && len(licenses) == 0 {
		_, err := fmt.Fprintln(w, "0 seats in use")
		return err
	}
	if len(rows) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "PRODUCT\tLICENSE\tHOST\tTAG\tIP\tACTIVATED")
		for _, r := range rows {
			license := r.MaskedKey
			if r.Blocked {
				license += " (blocked)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.ProductID, license, r.HostID,
				firstNonEmpty(r.DeviceTag, "-"), firstNonEmpty(r.IPAddress, "-"), r.ActivationTime.UTC().Format(time.RFC3339))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, l := range licenses {
		summary := seatsInUse(l.Activations, l.MaxActivations)
		if l.Blocked {
			summary += " (blocked)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", l.ProductID, l.MaskedKey, summary)
	}
	return tw.Flush()
}

// seatsInUse describes n held seats of a license with the given limit.
func seatsInUse(n int, limit *int) string {
	if limit == nil {
		return fmt.Sprintf("%d seats in use (unlimited)", n)
	}
	return fmt.Sprintf("%d/%d seats in use", n, *limit)
}
