package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/keymint-dev/terraform-provider-keymint/internal/localserver"
)

const seatsTimeout = 10 * time.Second

func seats(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("seats", flag.ContinueOnError)
	fs.SetOutput(stderr)
	baseURL := fs.String("url", "", "base `URL` of the server (default $KEYMINT_BASE_URL, else http://"+defaultAddr+")")
	token := fs.String("token", "", "access `token` (default $KEYMINT_ACCESS_TOKEN)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: keymint-local seats [flags]\n\nLists the seats a running keymint-local server holds.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	url := firstNonEmpty(*baseURL, getenv("KEYMINT_BASE_URL"), "http://"+defaultAddr)
	tok := firstNonEmpty(*token, getenv("KEYMINT_ACCESS_TOKEN"))
	if tok == "" {
		return errors.New("no access token: pass -token TOKEN or set KEYMINT_ACCESS_TOKEN")
	}
	rows, err := fetchSeats(ctx, strings.TrimRight(url, "/"), tok)
	if err != nil {
		return err
	}
	return printSeats(stdout, rows)
}

// fetchSeats GETs /_local/seats from the server at baseURL.
func fetchSeats(ctx context.Context, baseURL, token string) ([]localserver.SeatRow, error) {
	ctx, cancel := context.WithTimeout(ctx, seatsTimeout)
	defer cancel()
	endpoint := baseURL + "/_local/seats"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var body struct {
			Message string `json:"message"`
		}
		_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&body)
		return nil, fmt.Errorf("GET %s: %s: %s", endpoint, resp.Status, firstNonEmpty(body.Message, "no message"))
	}
	var rows []localserver.SeatRow
	if err := json.NewDecoder(resp.Body).Decode(&rows); err != nil {
		return nil, fmt.Errorf("GET %s: decode answer: %w", endpoint, err)
	}
	return rows, nil
}

// printSeats writes a table of the seats and a summary line per license.
// rows come sorted by product, license and activation order.
func printSeats(w io.Writer, rows []localserver.SeatRow) error {
	if len(rows) == 0 {
		_, err := fmt.Fprintln(w, "0 seats in use")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PRODUCT\tLICENSE\tHOST\tTAG\tIP\tACTIVATED")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.ProductID, r.MaskedKey, r.HostID,
			firstNonEmpty(r.DeviceTag, "-"), firstNonEmpty(r.IPAddress, "-"), r.ActivationTime.UTC().Format(time.RFC3339))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for start := 0; start < len(rows); {
		end := start + 1
		for end < len(rows) && rows[end].ProductID == rows[start].ProductID && rows[end].MaskedKey == rows[start].MaskedKey {
			end++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", rows[start].ProductID, rows[start].MaskedKey, seatsInUse(end-start, rows[start].MaxActivations))
		start = end
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

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
