package bench

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os/exec"
	"strconv"
	"strings"

	"github.com/keymint-dev/terraform-provider-keymint/tools/clirun"
)

// serverBenchArgs are the go arguments of keymint-local's request-rate
// benchmarks (internal/localserver/bench_test.go): concurrent clients on
// loopback.
var serverBenchArgs = []string{"test", "-run", "^$", "-bench", "Server", "-benchtime", "3s", "./internal/localserver/"}

// ServerBenchCommand is the command RunServerBench runs, as the report
// quotes it.
var ServerBenchCommand = "go " + strings.ReplaceAll(strings.Join(serverBenchArgs, " "), "^$", "'^$'")

// targetServerRate is keymint-local's target: requests a second on
// loopback, in every benchmark.
const targetServerRate = 5000

// ServerBench is keymint-local's request rate, measured by RunServerBench.
type ServerBench struct {
	// Lines are the result lines of the benchmarks, as go test prints
	// them.
	Lines []string
	// Err says why they are missing; "" when they were measured.
	Err string
}

// RunServerBench runs keymint-local's request-rate benchmarks with go test
// in the module root.
func RunServerBench(ctx context.Context) *ServerBench {
	root, err := clirun.ModuleRoot()
	if err != nil {
		return &ServerBench{Err: err.Error()}
	}
	cmd := exec.CommandContext(ctx, "go", serverBenchArgs...)
	cmd.Dir = root
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return &ServerBench{Err: fmt.Sprintf("%s: %v\n%s", ServerBenchCommand, err, lastLines(stdout.String()+stderr.String(), 20))}
	}
	sb := &ServerBench{Lines: benchmarkLines(stdout.String())}
	if len(sb.Lines) == 0 {
		sb.Err = fmt.Sprintf("%s printed no benchmark result:\n%s", ServerBenchCommand, lastLines(stdout.String(), 20))
	}
	return sb
}

// benchmarkLines returns the result lines of go test -bench output.
func benchmarkLines(out string) []string {
	var lines []string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "Benchmark") {
			lines = append(lines, strings.TrimRight(line, " \t\r"))
		}
	}
	return lines
}

// benchmarkRate returns the name and the req/s metric of a result line:
// "BenchmarkServerGetKey/gen1-2   58135   60732 ns/op   16466 req/s".
func benchmarkRate(line string) (name string, rate float64, ok bool) {
	fields := strings.Fields(line)
	for i := 2; i < len(fields); i++ {
		if fields[i] == "req/s" {
			rate, err := strconv.ParseFloat(fields[i-1], 64)
			return fields[0], rate, err == nil
		}
	}
	return "", 0, false
}

// serverTarget evaluates keymint-local's request rate.
func (r *Report) serverTarget() Target {
	t := Target{Goal: fmt.Sprintf("keymint-local answers at least %s requests a second on loopback in every benchmark "+
		"(concurrent clients, same machine)", thousands(fmt.Sprint(targetServerRate)))}
	if r.Server == nil || r.Server.Err != "" {
		return t
	}
	lowest, lowestName, n := math.Inf(1), "", 0
	for _, line := range r.Server.Lines {
		if name, rate, ok := benchmarkRate(line); ok {
			n++
			if rate < lowest {
				lowest, lowestName = rate, name
			}
		}
	}
	if n == 0 {
		return t
	}
	t.Measured = fmt.Sprintf("lowest %s requests a second (%s)", thousands(fmt.Sprintf("%.0f", lowest)), lowestName)
	t.Met = lowest >= targetServerRate
	return t
}

// writeServerSection writes the request-rate section, if the benchmarks
// ran.
func (r *Report) writeServerSection(b *strings.Builder) {
	if r.Server == nil {
		return
	}
	fmt.Fprintf(b, "\n## keymint-local request rate\n\n`%s`, concurrent clients on loopback, same machine "+
		"(target: at least %s requests a second):\n\n", ServerBenchCommand, thousands(fmt.Sprint(targetServerRate)))
	if r.Server.Err != "" {
		fmt.Fprintf(b, "Not measured:\n\n```\n%s\n```\n", strings.TrimSpace(r.Server.Err))
		return
	}
	fmt.Fprintf(b, "```\n%s\n```\n", strings.Join(r.Server.Lines, "\n"))
}
