package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// machine describes where a report was measured.
type machine struct {
	CPUs      int
	Model     string
	GoVersion string
	OS, Arch  string
	// LoadAvg is /proc/loadavg's 1, 5 and 15 minute averages when the run started: other work
	// on the machine shows up here.
	LoadAvg  string
	MemTotal string
}

func describeMachine() machine {
	m := machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	m.Model = cpuModel()
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			m.LoadAvg = strings.Join(f[:3], " ")
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
				m.MemTotal = strings.TrimSpace(v)
				if kb, err := strconv.ParseInt(strings.TrimSuffix(m.MemTotal, " kB"), 10, 64); err == nil {
					m.MemTotal = fmt.Sprintf("%.0f GiB", float64(kb)/(1<<20))
				}
				break
			}
		}
	}
	return m
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// cpuTimes is the machine's CPU time since boot from /proc/stat (every CPU, every process):
// busy is user, nice, system, irq and softirq; steal is the time the hypervisor gave this
// machine's CPUs to someone else while they had work.
type cpuTimes struct {
	busy, steal time.Duration
}

func readCPUTimes() (cpuTimes, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuTimes{}, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return cpuTimes{}, false
	}
	var v [8]int64 // user nice system idle iowait irq softirq steal
	for i := range v {
		n, err := strconv.ParseInt(f[i+1], 10, 64)
		if err != nil {
			return cpuTimes{}, false
		}
		v[i] = n
	}
	tick := func(n int64) time.Duration { return time.Duration(n) * time.Second / clockTicks }
	return cpuTimes{busy: tick(v[0] + v[1] + v[2] + v[5] + v[6]), steal: tick(v[7])}, true
}

// clockTicks is USER_HZ, the unit of /proc/stat: 100 on every Linux architecture Go supports.
const clockTicks = 100
