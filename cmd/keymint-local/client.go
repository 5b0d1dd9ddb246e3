package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/keymint-dev/terraform-provider-keymint/internal/keymint"
)

// requestTimeout bounds each request to a running server.
const requestTimeout = 10 * time.Second

// serverFlags are the flags of the commands that talk to a running
// server: its URL and an access token.
type serverFlags struct {
	url, token string
}

// register adds -url and -token to fs.
func (f *serverFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.url, "url", "", "base `URL` of the server (default $KEYMINT_BASE_URL, else http://"+defaultAddr+")")
	fs.StringVar(&f.token, "token", "", "access `token` (default $KEYMINT_ACCESS_TOKEN)")
}

// client returns a client for the server the flags, or else the
// environment, name.
func (f *serverFlags) client(getenv func(string) string) (*adminClient, error) {
	url := firstNonEmpty(f.url, getenv(keymint.EnvBaseURL), "http://"+defaultAddr)
	token := firstNonEmpty(f.token, getenv(keymint.EnvAccessToken))
	if token == "" {
		return nil, errors.New("no access token: pass -token TOKEN or set KEYMINT_ACCESS_TOKEN")
	}
	return &adminClient{baseURL: strings.TrimRight(url, "/"), token: token}, nil
}

// adminClient calls the /_local/ endpoints of a running server.
type adminClient struct {
	baseURL, token string
}

// do sends a request to path, with body as its JSON body unless body is
// nil, and decodes the 200 answer into out. Other answers are errors that
// carry the status and the server's message.
func (c *adminClient) do(ctx context.Context, method, path string, body []byte, out any) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	endpoint := c.baseURL + path
	var reader io.Reader
	if body != nil {
		reader = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, endpoint, reader)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var answer struct {
			Message string `json:"message"`
		}
		_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&answer)
		return fmt.Errorf("%s %s: %s: %s", method, endpoint, resp.Status, firstNonEmpty(answer.Message, "no message"))
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, endpoint, err)
	}
	return nil
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
