package main

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/redpanda-data/benthos/v4/public/service"
	"gopkg.in/yaml.v3"

	"github.com/mimecast-connect/mimecast-connect/internal/archive"
	"github.com/mimecast-connect/mimecast-connect/internal/connection"
	"github.com/mimecast-connect/mimecast-connect/internal/enrich"
	"github.com/mimecast-connect/mimecast-connect/internal/mimecast"
	"github.com/mimecast-connect/mimecast-connect/internal/threats"
)

// The Mimecast components check looks for.
const (
	kindThreats = threats.Name
	kindArchive = archive.Name
	kindEnrich  = enrich.Name
)

// checkedComponent is what check needs to know of one Mimecast component. Each component
// package answers for itself, so that check tests what the component would call.
type checkedComponent struct {
	benthosKind string // input | processor
	spec        func() *service.ConfigSpec
	// calls lists the endpoints the features of a parsed block turn on.
	calls       func(*service.ParsedConfig) ([]mimecast.Call, error)
	cacheFields func() []string
}

var checkedComponents = map[string]checkedComponent{
	kindThreats: {benthosKind: "input", spec: threats.Spec, calls: threats.Endpoints, cacheFields: threats.CacheFields},
	kindArchive: {benthosKind: "input", spec: archive.Spec, calls: archive.Endpoints, cacheFields: archive.CacheFields},
	kindEnrich:  {benthosKind: "processor", spec: enrich.Spec, calls: enrich.Endpoints, cacheFields: enrich.CacheFields},
}

// foundComponent is one Mimecast component block of a config file.
type foundComponent struct {
	kind  string // mimecast_threats | mimecast_archive | mimecast_enrich
	path  string // where it sits, as Benthos names it: root.pipeline.processors.0
	label string
	// config is the component's own block (the value of the kind key), with anchors and merge
	// keys resolved; nil when the block is empty.
	config any
	// block is the block's node, for the lines of its fields.
	block *yaml.Node
}

// field is the value node of the block's field name, or nil.
func (c foundComponent) field(name string) *yaml.Node {
	if c.block == nil || c.block.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(c.block.Content); i += 2 {
		if c.block.Content[i].Value == name {
			return c.block.Content[i+1]
		}
	}
	return nil
}

// configFile is one parsed config or resource file.
type configFile struct {
	name string
	root *yaml.Node
}

// loadConfigFiles reads the config and the resource files with ${VAR} references resolved as
// `run` resolves them. Every variable that is unset and has no default is named in one error,
// as `run` names them.
func loadConfigFiles(configPath string, resourcePatterns []string, lookup func(string) (string, bool)) ([]configFile, error) {
	paths := []string{configPath}
	for _, pattern := range resourcePatterns {
		matches, err := expandResourcePattern(pattern)
		if err != nil {
			return nil, err
		}
		paths = append(paths, matches...)
	}
	var (
		files   []configFile
		missing []string
	)
	for _, p := range paths {
		f, unset, err := readConfigFile(p, lookup)
		if err != nil {
			return nil, err
		}
		for _, v := range unset {
			if !slices.Contains(missing, v) {
				missing = append(missing, v)
			}
		}
		files = append(files, f)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("required environment variables were not set: %v (export them, give them a default with ${VAR:default}, or load a dotenv file with `mimecast-connect -e file.env check ...`)", missing)
	}
	return files, nil
}

// readConfigFile reads and parses one config or resource file with ${VAR} references resolved
// as `run` resolves them, and names the variables that are unset and have no default.
func readConfigFile(p string, lookup func(string) (string, bool)) (configFile, []string, error) {
	raw, err := os.ReadFile(p)
	if err != nil {
		return configFile{}, nil, fmt.Errorf("reading %s: %w", p, err)
	}
	resolved, unset, err := resolveEnvVars(raw, lookup)
	if err != nil {
		return configFile{}, nil, fmt.Errorf("resolving environment variables in %s: %w", p, err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(resolved, &root); err != nil {
		return configFile{}, nil, fmt.Errorf("parsing %s: %w", p, err)
	}
	return configFile{name: p, root: &root}, unset, nil
}

// expandResourcePattern accepts a file or a glob pattern: `run -r` in Benthos v4.60.0 takes
// files only, but the examples in this repository quote globs, and expanding them costs nothing.
func expandResourcePattern(pattern string) ([]string, error) {
	if !strings.ContainsAny(pattern, "*?[") {
		return []string{pattern}, nil
	}
	matches, err := filepath.Glob(pattern)
	if err != nil {
		return nil, fmt.Errorf("expanding resource pattern %q: %w", pattern, err)
	}
	if len(matches) == 0 {
		return nil, fmt.Errorf("expanding resource pattern %q: no file matches", pattern)
	}
	return matches, nil
}

// The environment variable syntax of Benthos v4.60.0 (internal/config/env_vars.go, not part of
// the public API): ${VAR}, ${VAR:default}, an optional |base64decode, and ${{VAR}} for a literal ${VAR}.
var (
	envVarRef        = regexp.MustCompile(`\${[0-9A-Za-z_.]+(:((\${[^}]+})|[^}])*)?(?:\|[0-9A-Za-z]+)?}`)
	escapedEnvVarRef = regexp.MustCompile(`\${({[0-9A-Za-z_.]+(:((\${[^}]+})|[^}])*)?})}`)
)

// resolveEnvVars replaces ${VAR} references the way `run` does: an unset variable without a
// default is reported in unset (and replaced by nothing); an empty one takes its default.
func resolveEnvVars(in []byte, lookup func(string) (string, bool)) (out []byte, unset []string, err error) {
	var errs []error
	out = envVarRef.ReplaceAllFunc(in, func(ref []byte) []byte {
		spec := string(ref[2 : len(ref)-1])
		name, def, hasDefault := strings.Cut(spec, ":")
		fn := ""
		if hasDefault {
			if i := strings.LastIndexByte(def, '|'); i >= 0 {
				def, fn = def[:i], def[i+1:]
			}
		} else if i := strings.LastIndexByte(name, '|'); i >= 0 {
			name, fn = name[:i], name[i+1:]
		}
		value, ok := lookup(name)
		switch {
		case hasDefault && value == "":
			value = def
		case !hasDefault && !ok:
			unset = append(unset, name)
		}
		switch fn {
		case "":
		case "base64decode":
			decoded, err := base64.StdEncoding.DecodeString(value)
			if err != nil {
				errs = append(errs, fmt.Errorf("decoding base64 of %s: %w", name, err))
			}
			value = string(decoded)
		default:
			errs = append(errs, fmt.Errorf("unknown env var decode function %q in ${%s}", fn, spec))
		}
		// As Benthos does: a newline in a value would otherwise break the YAML around it.
		return []byte(strings.ReplaceAll(value, "\n", `\n`))
	})
	if len(errs) > 0 {
		return nil, nil, errors.Join(errs...)
	}
	return escapedEnvVarRef.ReplaceAll(out, []byte("$$$1")), unset, nil
}

// findComponents walks a config file and returns every Mimecast component in it, wherever it
// sits: the input, pipeline and output processors, brokers, resources, and processors nested in
// branch, switch, try, catch, workflow and the like. A config's unit tests (`tests:`) are not
// part of a running pipeline and are skipped.
func findComponents(f configFile) []foundComponent {
	var out []foundComponent
	if f.root == nil || len(f.root.Content) == 0 {
		return nil
	}
	var walk func(n *yaml.Node, path []string)
	walk = func(n *yaml.Node, path []string) {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				key, val := n.Content[i].Value, n.Content[i+1]
				if _, ok := checkedComponents[key]; ok && isComponentBlock(val) {
					out = append(out, newFoundComponent(key, path, n, val))
					continue
				}
				if len(path) == 1 && key == "tests" {
					continue
				}
				walk(val, append(slices.Clip(path), key))
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, append(slices.Clip(path), strconv.Itoa(i)))
			}
		}
		// Aliases are skipped: the anchored node is found where it is defined.
	}
	walk(f.root.Content[0], []string{"root"})
	return out
}

func newFoundComponent(kind string, path []string, wrapper, block *yaml.Node) foundComponent {
	c := foundComponent{kind: kind, path: strings.Join(path, ".")}
	if block.Kind == yaml.AliasNode && block.Alias != nil {
		c.block = block.Alias
	} else {
		c.block = block
	}
	for i := 0; i+1 < len(wrapper.Content); i += 2 {
		if wrapper.Content[i].Value == "label" {
			c.label = wrapper.Content[i+1].Value
		}
	}
	if !isNull(block) {
		// Decoding resolves aliases and merge keys, which a re-encoded node would lose. Dates
		// stay the text they were: decoded as timestamps, `end_date: 2024-12-31` would come
		// back as midnight, where the component reads a date as the whole day.
		keepTimestampsAsText(block)
		var v any
		if err := block.Decode(&v); err == nil {
			c.config = v
		}
	}
	return c
}

// keepTimestampsAsText tags the scalars of n that YAML would read as timestamps as strings, as
// Benthos reads them.
func keepTimestampsAsText(n *yaml.Node) {
	if n == nil {
		return
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!timestamp" {
		n.Tag = "!!str"
	}
	for _, c := range n.Content {
		keepTimestampsAsText(c)
	}
	if n.Kind == yaml.AliasNode {
		keepTimestampsAsText(n.Alias)
	}
}

// isComponentBlock reports whether n can be a component's config: a mapping, an alias of one, or
// nothing (all defaults).
func isComponentBlock(n *yaml.Node) bool {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n.Kind == yaml.MappingNode || isNull(n)
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// configYAML is the component block as YAML, for the component's spec to parse.
func (c foundComponent) configYAML() ([]byte, error) {
	if c.config == nil {
		return []byte("{}"), nil
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	if err := enc.Encode(c.config); err != nil {
		return nil, fmt.Errorf("encoding the %s block: %w", c.kind, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encoding the %s block: %w", c.kind, err)
	}
	return b.Bytes(), nil
}

// secret returns the component's client_secret as written, for the output scrubber.
func (c foundComponent) secret() string {
	m, ok := c.config.(map[string]any)
	if !ok {
		return ""
	}
	s, _ := m["client_secret"].(string)
	return s
}

// resourceLabels lists the labels of a file's resources of one kind (rate_limit_resources,
// cache_resources): a component naming one is valid only if some file defines it, as for `run`.
func resourceLabels(f configFile, list string) []string {
	if f.root == nil || len(f.root.Content) == 0 || f.root.Content[0].Kind != yaml.MappingNode {
		return nil
	}
	top := f.root.Content[0]
	var out []string
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value != list || top.Content[i+1].Kind != yaml.SequenceNode {
			continue
		}
		for _, res := range top.Content[i+1].Content {
			for j := 0; j+1 < len(res.Content); j += 2 {
				if res.Content[j].Value == "label" && res.Content[j+1].Value != "" {
					out = append(out, res.Content[j+1].Value)
				}
			}
		}
	}
	return out
}

// undefinedResource is a resource a component names that no file defines.
type undefinedResource struct {
	kind string // cache or rate_limit
	line int    // of the field naming it
	msg  string // as start-up says it
}

// undefinedResources lists the cache and rate_limit resources the component names that are not
// among the defined ones, in field order. The resources themselves are never opened: check
// must not read or write checkpoints.
func (c foundComponent) undefinedResources(caches, rateLimits []string) []undefinedResource {
	refs := map[string]string{connection.FieldRateLimit: "rate_limit"}
	for _, field := range checkedComponents[c.kind].cacheFields() {
		refs[field] = "cache"
	}
	// Names come from the decoded block (merge keys resolved), lines from the field's node, or
	// the block's when a merge key supplied the field.
	m, _ := c.config.(map[string]any)
	var out []undefinedResource
	for _, field := range slices.Sorted(maps.Keys(refs)) {
		name, _ := m[field].(string)
		if name == "" {
			continue
		}
		kind, defined := refs[field], caches
		if kind == "rate_limit" {
			defined = rateLimits
		}
		if slices.Contains(defined, name) {
			continue
		}
		line := c.block.Line
		if node := c.field(field); node != nil {
			line = node.Line
		}
		out = append(out, undefinedResource{kind: kind, line: line,
			msg: fmt.Sprintf("%s: %s resource %q is not defined: add it under %s_resources or pass its file with -r", field, kind, name, kind)})
	}
	return out
}

// componentDisplayPath names a component for the report; components of a resource file carry
// the file's name, since their paths start at that file's root.
func componentDisplayPath(file string, isMain bool, path string) string {
	if isMain {
		return path
	}
	return file + "#" + path
}
