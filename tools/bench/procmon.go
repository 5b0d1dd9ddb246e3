package bench

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTicks is USER_HZ, the unit of the CPU times in /proc/PID/stat. It
// is 100 on every Linux platform Go supports.
const clockTicks = 100

// procMonitor polls /proc for the processes running one executable (the
// provider, which the CLI starts and stops several times per command) and
// keeps the largest VmHWM (peak resident set) and the CPU time they used.
// On systems without /proc it reports nothing.
type procMonitor struct {
	exe      string // resolved path; "" matches nothing
	cli      string // resolved path of the CLI, which forks the provider
	interval time.Duration

	stopCh chan struct{}
	done   chan struct{}

	mu        sync.Mutex
	peakKB    int64
	cpuTicks  map[int]int64 // CPU ticks of live matching processes, by PID
	doneTicks int64         // CPU ticks of exited matching processes
	processes int           // matching processes seen
	samples   int
}

// startProcMonitor starts polling every interval for processes of exe.
// cli is the path of the CLI binary: processes still running it may be
// about to exec the provider, so they are looked at again on every poll.
func startProcMonitor(exe, cli string, interval time.Duration) *procMonitor {
	m := &procMonitor{
		exe:      resolve(exe),
		cli:      resolve(cli),
		interval: interval,
		stopCh:   make(chan struct{}),
		done:     make(chan struct{}),
		cpuTicks: map[int]int64{},
	}
	go m.run()
	return m
}

func resolve(p string) string {
	if p == "" {
		return ""
	}
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return p
}

func (m *procMonitor) run() {
	defer close(m.done)
	if _, err := os.Stat("/proc/self/status"); err != nil {
		return
	}
	known := map[int]bool{} // PID → runs exe, for processes that cannot exec it any more
	tick := time.NewTicker(m.interval)
	defer tick.Stop()
	for {
		m.poll(known)
		select {
		case <-m.stopCh:
			m.poll(known)
			return
		case <-tick.C:
		}
	}
}

// poll looks at every process once.
func (m *procMonitor) poll(known map[int]bool) {
	d, err := os.Open("/proc")
	if err != nil {
		return
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	alive := make(map[int]bool, len(names))
	var matching []int
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		alive[pid] = true
		match, ok := known[pid]
		if !ok {
			exe, err := os.Readlink("/proc/" + name + "/exe")
			if err != nil {
				continue // gone, or not ours to look at
			}
			exe = strings.TrimSuffix(exe, " (deleted)")
			match = m.exe != "" && exe == m.exe
			if match || exe != m.cli {
				known[pid] = match
			}
		}
		if match {
			matching = append(matching, pid)
		}
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	m.samples++
	for pid := range known {
		if !alive[pid] {
			delete(known, pid)
		}
	}
	for pid, ticks := range m.cpuTicks {
		if !alive[pid] {
			m.doneTicks += ticks
			delete(m.cpuTicks, pid)
		}
	}
	for _, pid := range matching {
		if hwm, ok := readVmHWM(pid); ok && hwm > m.peakKB {
			m.peakKB = hwm
		}
		if ticks, ok := readCPUTicks(pid); ok {
			if _, seen := m.cpuTicks[pid]; !seen {
				m.processes++
			}
			m.cpuTicks[pid] = ticks
		}
	}
}

// stop stops polling and returns the peak VmHWM in bytes, the CPU time of
// the matching processes (as last seen: up to one interval of each
// process's end is missed) and how many there were.
func (m *procMonitor) stop() (peak int64, cpu time.Duration, processes int) {
	close(m.stopCh)
	<-m.done
	m.mu.Lock()
	defer m.mu.Unlock()
	ticks := m.doneTicks
	for _, t := range m.cpuTicks {
		ticks += t
	}
	return m.peakKB * 1024, time.Duration(ticks) * time.Second / clockTicks, m.processes
}

// readVmHWM returns the VmHWM of a process in kB.
func readVmHWM(pid int) (int64, bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, false
	}
	for line := range bytes.Lines(data) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmHWM:")); ok {
			f := strings.Fields(string(rest))
			if len(f) == 0 {
				return 0, false
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			return kb, err == nil
		}
	}
	return 0, false
}

// readCPUTicks returns utime + stime of a process, in clock ticks.
func readCPUTicks(pid int) (int64, bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	return parseStatCPU(string(data))
}

// parseStatCPU extracts utime + stime from the content of /proc/PID/stat.
// The command name (field 2) may hold spaces and parentheses, so fields are
// counted from the last ')'.
func parseStatCPU(stat string) (int64, bool) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, false
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return u + s, true
}

// processCPU returns the CPU time a running process has used so far.
func processCPU(pid int) time.Duration {
	ticks, _ := readCPUTicks(pid)
	return time.Duration(ticks) * time.Second / clockTicks
}

// busyCPU returns the CPU time all CPUs of the machine have spent busy
// (not idle, not waiting for I/O) since boot, from /proc/stat.
func busyCPU() (time.Duration, bool) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return 0, false
	}
	var busy int64
	for i, v := range f[1:] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, false
		}
		// Fields: user nice system idle iowait irq softirq steal guest guest_nice;
		// guest time is already counted in user and nice.
		if i == 3 || i == 4 || i >= 8 {
			continue
		}
		busy += n
	}
	return time.Duration(busy) * time.Second / clockTicks, true
}

// loadAverage returns the first three fields of /proc/loadavg, or "".
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
