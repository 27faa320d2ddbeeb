package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
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
