package bench

import (
	"bufio"
	"bytes"
	"os"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"
)

// usage is the process's resource use at one moment.
type usage struct {
	at  time.Time
	cpu time.Duration // user + system, all threads
}

func readUsage() usage {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru) // cannot fail for RUSAGE_SELF
	return usage{at: time.Now(), cpu: tvDuration(ru.Utime) + tvDuration(ru.Stime)}
}

func tvDuration(tv syscall.Timeval) time.Duration {
	return time.Duration(tv.Sec)*time.Second + time.Duration(tv.Usec)*time.Microsecond
}

// since is the wall and CPU time between u and now.
func (u usage) since() (wall, cpu time.Duration) {
	now := readUsage()
	return now.at.Sub(u.at), now.cpu - u.cpu
}

// peakRSS is the process's resident-set high-water mark in bytes: VmHWM, which resetPeakRSS can
// lower (so an in-process run gets a per-scenario figure), else getrusage's ru_maxrss, which
// only ever grows.
func peakRSS() int64 {
	if v, ok := procStatusKB("VmHWM:"); ok {
		return v << 10
	}
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Maxrss << 10 // kilobytes on Linux
}

// resetPeakRSS returns the heap of earlier scenarios to the OS and restarts VmHWM from the
// current RSS (Linux >= 4.0: writing 5 to clear_refs). It reports whether the reset took: when it
// did not, an in-process peak includes everything the process did before.
func resetPeakRSS() bool {
	debug.FreeOSMemory()
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// procStatusKB reads a "Key:   123 kB" line of /proc/self/status.
func procStatusKB(key string) (int64, bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.HasPrefix(line, []byte(key)) {
			continue
		}
		fields := bytes.Fields(line[len(key):])
		if len(fields) == 0 {
			return 0, false
		}
		v, err := strconv.ParseInt(string(fields[0]), 10, 64)
		return v, err == nil
	}
	return 0, false
}
