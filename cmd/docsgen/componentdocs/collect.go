// Package componentdocs renders Markdown reference pages for the project's
// Benthos components from their config specs, and compares them with the
// checked-in copies.
//
// It deliberately imports no plugin package: whoever calls it decides which
// components are registered (the docsgen command imports the same packages as
// the binary; tests register their own in a separate Environment).
package componentdocs

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// Page is one component's reference page, ready for the template.
type Page struct {
	// Path is where the page goes, relative to the docs directory and
	// slash-separated: "inputs/mimecast_threats.md".
	Path string
	// Kind is the Benthos component type: input, processor, output, metrics.
	Kind       string
	Name       string
	Data       service.TemplateDataPlugin
	Categories []string
	// CommonYAML and AdvancedYAML are complete configs, so that `lint` can
	// check the ```yaml blocks they end up in.
	CommonYAML   string
	AdvancedYAML string
	Fields       []Field
}

// Field adds to Benthos' template field what TemplateData leaves out:
// whether a field is required, optional or advanced, and the element type of
// arrays and maps.
type Field struct {
	service.TemplateDataPluginField
	TypeName   string
	HasDefault bool
	Optional   bool
	Advanced   bool
	// InnerDefaults: an object whose fields can all be left out, so the
	// object can be too (lint does not ask for it).
	InnerDefaults bool
}

// Required reports whether a config must set the field: it has neither a
// default nor the optional flag, nor is it an object whose fields can all be
// left out, which is also what lint enforces.
func (f Field) Required() bool { return !f.HasDefault && !f.Optional && !f.InnerDefaults }

type kindSpec struct {
	kind string
	dir  string
	walk func(*service.Environment, func(string, *service.ConfigView))
	want func(name string) bool
}

func isProjectComponent(name string) bool { return strings.HasPrefix(name, "mimecast_") }

// kinds lists what gets a page. Prometheus is included because the exporter is
// part of this project even though its name is the conventional one.
var kinds = []kindSpec{
	{kind: "input", dir: "inputs", walk: (*service.Environment).WalkInputs, want: isProjectComponent},
	{kind: "processor", dir: "processors", walk: (*service.Environment).WalkProcessors, want: isProjectComponent},
	{kind: "output", dir: "outputs", walk: (*service.Environment).WalkOutputs, want: isProjectComponent},
	{
		// WalkMetrics in v4.60.0 walks the global registry whatever the
		// Environment, so exporters must be registered globally to show up.
		kind: "metrics", dir: "metrics", walk: (*service.Environment).WalkMetrics,
		want: func(name string) bool { return name == "prometheus" || isProjectComponent(name) },
	},
}

// Collect builds a page for every project component registered in env, in
// the order of kinds and then by name, so that output is stable.
func Collect(env *service.Environment) ([]Page, error) {
	var pages []Page
	var errs []error
	for _, k := range kinds {
		k.walk(env, func(name string, view *service.ConfigView) {
			if !k.want(name) {
				return
			}
			p, err := newPage(k, name, view)
			if err != nil {
				errs = append(errs, fmt.Errorf("documenting %s %s: %w", k.kind, name, err))
				return
			}
			pages = append(pages, p)
		})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	rank := map[string]int{}
	for i, k := range kinds {
		rank[k.kind] = i
	}
	sort.Slice(pages, func(i, j int) bool {
		if ri, rj := rank[pages[i].Kind], rank[pages[j].Kind]; ri != rj {
			return ri < rj
		}
		return pages[i].Name < pages[j].Name
	})
	return pages, nil
}

func newPage(k kindSpec, name string, view *service.ConfigView) (Page, error) {
	data, err := view.TemplateData()
	if err != nil {
		return Page{}, fmt.Errorf("reading template data: %w", err)
	}
	meta, err := fieldMeta(view)
	if err != nil {
		return Page{}, err
	}
	data.CommonConfigYAML = withoutSampleValues(data.CommonConfigYAML)
	data.AdvancedConfigYAML = withoutSampleValues(data.AdvancedConfigYAML)
	p := Page{
		Path:         k.dir + "/" + name + ".md",
		Kind:         k.kind,
		Name:         name,
		Data:         data,
		CommonYAML:   fullConfig(k.kind, data.CommonConfigYAML),
		AdvancedYAML: fullConfig(k.kind, data.AdvancedConfigYAML),
	}
	if data.Categories != "" {
		if err := json.Unmarshal([]byte(data.Categories), &p.Categories); err != nil {
			return Page{}, fmt.Errorf("decoding categories: %w", err)
		}
	}
	for _, f := range data.Fields {
		m, ok := meta[f.FullName]
		if !ok {
			return Page{}, fmt.Errorf("field %s is missing from the JSON spec", f.FullName)
		}
		m.TemplateDataPluginField = f
		p.Fields = append(p.Fields, m)
	}
	return p, nil
}

// optionalSample is a line of Benthos' config sample for an optional field
// without a default, which it shows with the field's first example.
var optionalSample = regexp.MustCompile(`(?m)^(\s*[A-Za-z0-9_]+: ).+( # No default \(optional\))$`)

// withoutSampleValues shows optional fields without a default empty: their
// example next to "No default" reads as a default that is not there.
func withoutSampleValues(sample string) string {
	return optionalSample.ReplaceAllString(sample, `$1""$2`)
}

// fullConfig turns TemplateData's config sample into a complete config.
// Inputs, outputs and metrics come nested under their section already;
// processors come bare (`label: ""` plus the plugin key), which lint would
// reject as a config, so they go under pipeline.processors.
func fullConfig(kind, sample string) string {
	if kind != "processor" {
		return sample
	}
	var b strings.Builder
	b.WriteString("pipeline:\n  processors:\n")
	for i, line := range strings.Split(strings.TrimRight(sample, "\n"), "\n") {
		if i == 0 {
			b.WriteString("    - " + line + "\n")
		} else {
			b.WriteString("      " + line + "\n")
		}
	}
	return b.String()
}

// fieldJSON is the part of ConfigView.FormatJSON's (undocumented, but stable
// across v4) schema that TemplateData does not expose.
type fieldJSON struct {
	Name         string          `json:"name"`
	Type         string          `json:"type"`
	Kind         string          `json:"kind"`
	IsAdvanced   bool            `json:"is_advanced"`
	IsDeprecated bool            `json:"is_deprecated"`
	IsOptional   bool            `json:"is_optional"`
	Default      json.RawMessage `json:"default"`
	Children     []fieldJSON     `json:"children"`
}

// fieldMeta indexes the JSON spec by the same FullName paths that
// TemplateData uses (`a.b`, `list[].x`, `map.<name>.y`).
func fieldMeta(view *service.ConfigView) (map[string]Field, error) {
	raw, err := view.FormatJSON()
	if err != nil {
		return nil, fmt.Errorf("formatting spec as JSON: %w", err)
	}
	var spec struct {
		Config fieldJSON `json:"config"`
	}
	if err := json.Unmarshal(raw, &spec); err != nil {
		return nil, fmt.Errorf("decoding JSON spec: %w", err)
	}
	out := map[string]Field{}
	var walk func(prefix string, fs []fieldJSON) (allOptional bool)
	walk = func(prefix string, fs []fieldJSON) bool {
		allOptional := true
		for _, f := range fs {
			if f.IsDeprecated {
				continue
			}
			full := prefix + f.Name
			field := Field{
				TypeName:   typeName(f.Kind, f.Type),
				HasDefault: len(f.Default) > 0,
				Optional:   f.IsOptional,
				Advanced:   f.IsAdvanced,
			}
			if len(f.Children) > 0 {
				inner := walk(full+pathSuffix(f.Kind)+".", f.Children)
				field.InnerDefaults = inner && f.Kind == "scalar" && f.Type == "object"
			}
			out[full] = field
			allOptional = allOptional && !field.Required()
		}
		return allOptional
	}
	root := ""
	switch spec.Config.Kind {
	case "array":
		root = "[]."
	case "map":
		root = "<name>."
	}
	walk(root, spec.Config.Children)
	return out, nil
}

func pathSuffix(kind string) string {
	switch kind {
	case "array":
		return "[]"
	case "2darray":
		return "[][]"
	case "map":
		return ".<name>"
	}
	return ""
}

func typeName(kind, typ string) string {
	switch kind {
	case "array":
		return "array of " + typ
	case "2darray":
		return "array of arrays of " + typ
	case "map":
		return "map of " + typ
	}
	return typ
}
