package reliability

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SoakSample is one reading of the running binary.
type SoakSample struct {
	At         time.Duration // since the binary started
	RSSBytes   float64       // process_resident_memory_bytes
	HeapBytes  float64       // go_memstats_heap_inuse_bytes
	Goroutines float64       // go_goroutines
	Events     int           // lines written so far
}

// scrapeMetrics reads the prometheus exporter's process and Go runtime gauges.
func scrapeMetrics(ctx context.Context, client *http.Client, url string) (SoakSample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return SoakSample{}, err
	}
	res, err := client.Do(req)
	if err != nil {
		return SoakSample{}, fmt.Errorf("scraping %s: %w", url, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return SoakSample{}, fmt.Errorf("scraping %s: HTTP %d", url, res.StatusCode)
	}
	want := map[string]*float64{}
	var s SoakSample
	want["process_resident_memory_bytes"] = &s.RSSBytes
	want["go_memstats_heap_inuse_bytes"] = &s.HeapBytes
	want["go_goroutines"] = &s.Goroutines
	found := 0
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if dst, known := want[name]; ok && known {
			v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
			if err != nil {
				return SoakSample{}, fmt.Errorf("reading %s: %w", name, err)
			}
			*dst = v
			found++
		}
	}
	if err := sc.Err(); err != nil {
		return SoakSample{}, fmt.Errorf("reading %s: %w", url, err)
	}
	if found != len(want) {
		return SoakSample{}, fmt.Errorf("scraping %s: %d of the %d process and Go gauges (add_process_metrics and add_go_metrics must be on)", url, found, len(want))
	}
	return s, nil
}
