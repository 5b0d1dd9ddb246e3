package keymint

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"strings"
	"sync"
	"testing"
)

// jsonLogger writes the client's log lines to w, one JSON object a line
// ("@level", "@message" and the fields), as Terraform writes a provider's
// log, so that a test sees the JSON-escaped forms of what was logged as
// well. It masks nothing itself: the lines show what the client masked.
type jsonLogger struct {
	mu sync.Mutex
	w  io.Writer
	// secrets collects what WithSecrets was given.
	secrets []string
}

func (l *jsonLogger) WithSecrets(ctx context.Context, secrets ...string) context.Context {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.secrets = append(l.secrets, secrets...)
	return ctx
}

func (l *jsonLogger) Debug(_ context.Context, msg string, fields map[string]any) {
	l.write("debug", msg, fields)
}

func (l *jsonLogger) Info(_ context.Context, msg string, fields map[string]any) {
	l.write("info", msg, fields)
}

func (l *jsonLogger) write(level, msg string, fields map[string]any) {
	line := map[string]any{"@level": level, "@message": msg}
	for k, v := range fields {
		line[k] = v
	}
	raw, err := json.Marshal(line)
	if err != nil {
		panic(err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = l.w.Write(append(raw, '\n'))
}

// decodeLogLines decodes the lines a jsonLogger wrote.
func decodeLogLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		lines = append(lines, line)
	}
	return lines
}

// Without a Logger the client logs nothing and works as with one.
func TestNilLoggerIsSilent(t *testing.T) {
	c, reqs := newTestServer(t, 200, `{"code":0,"data":{"license":{"id":"lic_1","devices":[]},"customer":null}}`)
	if c.logger != nil {
		t.Fatal("the test client has a logger")
	}
	if _, err := c.GetKey(context.Background(), testProduct, testKey); err != nil {
		t.Fatal(err)
	}
	if len(*reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(*reqs))
	}
}

// Each call gives the Logger its secrets to back up the masking with, in
// their whole-string forms, and the lines go to the level they belong to.
func TestLoggerGetsSecretsAndLevels(t *testing.T) {
	var logs lockedBuffer
	l := &jsonLogger{w: &logs}
	g := &generations{gen2: true}
	c := generationsClientWith(t, g, Config{APIVersion: APIAuto, AccessToken: specialToken, Logger: l})
	if _, err := c.Deactivate(context.Background(), testProduct, specialKey, "h"); err != nil {
		t.Fatal(err)
	}
	escaped, _ := json.Marshal(specialKey)
	for _, want := range []string{specialKey, specialToken, string(escaped[1 : len(escaped)-1]), "LK%26%3Ckey%3E-0001", "LK&amp;&lt;key&gt;-0001"} {
		found := false
		for _, s := range l.secrets {
			found = found || s == want
		}
		if !found {
			t.Errorf("WithSecrets was not given %q; it got %q", want, l.secrets)
		}
	}
	levels := map[string]string{}
	for _, line := range decodeLogLines(t, logs.String()) {
		levels[line["@message"].(string)] = line["@level"].(string)
	}
	if got := levels["KeyMint API request"]; got != "debug" {
		t.Errorf("the request was logged at %q, want debug: %v", got, levels)
	}
	for msg, level := range levels {
		if strings.Contains(msg, "using the generation-2 paths") && level != "info" {
			t.Errorf("the switch of generation was logged at %q, want info", level)
		}
	}
}
