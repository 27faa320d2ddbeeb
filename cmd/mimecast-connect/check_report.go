package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// checkRow is one line of the report: one call (or the token request, or the config).
type checkRow struct {
	Feature  string `json:"feature"`
	Method   string `json:"method,omitempty"`
	Endpoint string `json:"endpoint,omitempty"`
	Result   string `json:"result"` // ok | forbidden | failed
	Hint     string `json:"hint,omitempty"`
	Error    string `json:"error,omitempty"`
	// Product and Permission name what to grant when Result is forbidden.
	Product              string `json:"product,omitempty"`
	Permission           string `json:"permission,omitempty"`
	TokenLifetimeSeconds *int64 `json:"token_lifetime_seconds,omitempty"`
}

// componentReport is the outcome for one component.
type componentReport struct {
	Path     string     `json:"path"`
	Kind     string     `json:"kind"`
	Label    string     `json:"label,omitempty"`
	APIURL   string     `json:"api_url,omitempty"`
	ClientID string     `json:"client_id,omitempty"`
	Checks   []checkRow `json:"checks"`

	secrets []string // scrubbed from everything printed
}

func (r componentReport) ok() bool {
	for _, c := range r.Checks {
		if c.Result != resultOK {
			return false
		}
	}
	return true
}

// checkReport is what check prints.
type checkReport struct {
	Config     string            `json:"config"`
	Resources  []string          `json:"resources,omitempty"`
	OK         bool              `json:"ok"`
	ExitCode   int               `json:"exit_code"`
	Message    string            `json:"message,omitempty"`
	Components []componentReport `json:"components"`
}

// Exit codes of check.
const (
	exitAllOK       = 0
	exitNotAllOK    = 1
	exitNoComponent = 2
)

// scrubber removes credentials from text. The client already keeps them out of its errors;
// this is the last line of defence for anything check itself prints.
type scrubber struct{ secrets []string }

// minScrubLen keeps a very short secret (a placeholder such as "x") from blanking out every
// occurrence of that letter; real secrets and tokens are far longer.
const minScrubLen = 4

func (s *scrubber) add(secrets ...string) {
	for _, v := range secrets {
		if len(v) >= minScrubLen {
			s.secrets = append(s.secrets, v)
		}
	}
}

func (s *scrubber) clean(text string) string {
	for _, v := range s.secrets {
		text = strings.ReplaceAll(text, v, "[redacted]")
	}
	return text
}

func (s *scrubber) report(r *checkReport) {
	r.Message = s.clean(r.Message)
	for i := range r.Components {
		c := &r.Components[i]
		for j := range c.Checks {
			row := &c.Checks[j]
			row.Hint, row.Error, row.Endpoint = s.clean(row.Hint), s.clean(row.Error), s.clean(row.Endpoint)
		}
	}
}

// writeJSON prints the report for automation.
func (r *checkReport) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	return nil
}

// writeTable prints the report for a person: one line per call, then a verdict.
func (r *checkReport) writeTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "COMPONENT\tFEATURE\tENDPOINT\tRESULT\tHINT")
	for _, c := range r.Components {
		name := c.Path + " (" + c.Kind + ")"
		if c.Label != "" {
			name = c.Path + " (" + c.Kind + " " + c.Label + ")"
		}
		for _, row := range c.Checks {
			endpoint := strings.TrimSpace(row.Method + " " + row.Endpoint)
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", name, row.Feature, endpoint, row.Result, tableDetail(row))
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	_, err := fmt.Fprintln(w, "\n"+r.Message)
	return err
}

// tableDetail is the last column: the hint, and for a failure the error too.
func tableDetail(row checkRow) string {
	switch {
	case row.Result != resultFailed || row.Error == "":
		return row.Hint
	case row.Hint == "":
		return row.Error
	default:
		return row.Hint + " (" + row.Error + ")"
	}
}

// verdict summarises the report and sets its exit code.
func (r *checkReport) verdict() {
	var calls, failed int
	for _, c := range r.Components {
		for _, row := range c.Checks {
			calls++
			if row.Result != resultOK {
				failed++
			}
		}
	}
	r.OK = failed == 0
	if r.OK {
		r.ExitCode = exitAllOK
		r.Message = fmt.Sprintf("all %d checks of %d Mimecast component(s) passed", calls, len(r.Components))
		return
	}
	r.ExitCode = exitNotAllOK
	r.Message = fmt.Sprintf("%d of %d checks of %d Mimecast component(s) did not pass: see their hints", failed, calls, len(r.Components))
}
