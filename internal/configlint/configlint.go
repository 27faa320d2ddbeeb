// Package configlint makes `lint` refuse what a component's constructor refuses: a Bloblang
// method, mimecast_config_errors, runs the component's own validation (CEL compiled, regular
// expressions compiled, dates parsed, ranges and combinations checked) on the config being
// linted, and a component's spec calls it from its lint rule. `lint`, `check` and `run` (which
// lints before it starts) then say the same thing, in Benthos' lint format with file and line.
//
// Whether a named cache or rate_limit resource exists is checked by the binary's lint across
// all the files it lints (resources may live in other files); anything that needs the network
// is left to start-up and `check`.
package configlint

import (
	"fmt"
	"strings"
	"sync"

	"github.com/redpanda-data/benthos/v4/public/bloblang"
	"github.com/redpanda-data/benthos/v4/public/service"
	"gopkg.in/yaml.v3"
)

// Validate checks a parsed component config as its constructor would, without resources or
// network: the error is what start-up would say.
type Validate func(conf *service.ParsedConfig) error

type component struct {
	kind     string // input or processor
	spec     func() *service.ConfigSpec
	validate Validate
}

var (
	mu         sync.RWMutex
	components = map[string]component{}
	// linting holds the configs whose field lints are being run from errorsOf, whose own
	// lint rule must then say nothing (it would run again for ever).
	linting = map[string]int{}
)

// Register makes the config of component name (of kind input or processor) checkable by
// LintRule. spec is called at lint time, so it may be the component's own Spec (whose lint
// rule calls this package) without a cycle.
func Register(name, kind string, spec func() *service.ConfigSpec, validate Validate) {
	mu.Lock()
	defer mu.Unlock()
	components[name] = component{kind: kind, spec: spec, validate: validate}
}

// LintRule is the spec-level lint rule of component name.
func LintRule(name string) string {
	return fmt.Sprintf("root = this.%s(%q)", methodName, name)
}

const methodName = "mimecast_config_errors"

func init() {
	spec := bloblang.NewPluginSpec().
		Description("The errors a Mimecast component's constructor finds in its config (internal: used by the components' lint rules).").
		Param(bloblang.NewStringParam("component"))
	if err := bloblang.RegisterMethodV2(methodName, spec, func(args *bloblang.ParsedParams) (bloblang.Method, error) {
		name, err := args.GetString("component")
		if err != nil {
			return nil, err
		}
		return func(v any) (any, error) { return errorsOf(name, v), nil }, nil
	}); err != nil {
		panic(err)
	}
}

// errorsOf returns the constructor's error for the config v of component name, as a lint
// list: empty when the config is fine.
func errorsOf(name string, v any) []any {
	mu.RLock()
	c, ok := components[name]
	mu.RUnlock()
	if !ok {
		return nil
	}
	if v == nil {
		v = map[string]any{}
	}
	if unresolved(v) {
		// An environment variable lint could not resolve (--skip-env-var-check): its value is
		// only known at start-up, which checks it then.
		return nil
	}
	raw, err := yaml.Marshal(v)
	if err != nil {
		return nil
	}
	key := name + "\x00" + string(raw)
	mu.RLock()
	inner := linting[key] > 0
	mu.RUnlock()
	if inner || fieldLintsFail(key, name, c.kind, raw) {
		return nil // the field lints have said what is wrong, once
	}
	conf, err := c.spec().ParseYAML(string(raw), nil)
	if err != nil {
		return nil // the field lints have said what is wrong
	}
	if err := c.validate(conf); err != nil && !emptyField(v, err.Error()) {
		return []any{err.Error()}
	}
	return nil
}

// fieldLintsFail lints the config raw of component name with its fields' own rules, and
// reports whether any failed. Meanwhile the config is in linting, for the component's rule,
// which that lint runs again, to say nothing.
func fieldLintsFail(key, name, kind string, raw []byte) bool {
	mu.Lock()
	linting[key]++
	mu.Unlock()
	defer func() {
		mu.Lock()
		if linting[key]--; linting[key] == 0 {
			delete(linting, key)
		}
		mu.Unlock()
	}()
	node := map[string]any{}
	if err := yaml.Unmarshal(raw, &node); err != nil {
		return true
	}
	wrapped, err := yaml.Marshal(map[string]any{name: node})
	if err != nil {
		return true
	}
	linter := service.GlobalEnvironment().NewComponentConfigLinter().SetSkipEnvVarCheck(true)
	var lints []service.Lint
	if kind == "processor" {
		lints, err = linter.LintProcessorYAML(wrapped)
	} else {
		lints, err = linter.LintInputYAML(wrapped)
	}
	return err != nil || len(lints) > 0
}

// emptyField reports whether msg is about a field whose value is empty: lint resolves an
// unset environment variable to nothing (and says so itself, unless told to skip the check),
// so an empty value is judged at start-up, when the environment is the real one.
func emptyField(v any, msg string) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	name, _, found := strings.Cut(msg, ":")
	if !found {
		return false
	}
	name, _, _ = strings.Cut(name, "[")
	s, isString := m[name].(string)
	return isString && s == ""
}

// unresolved reports whether a string in v still holds an environment variable reference.
func unresolved(v any) bool {
	switch t := v.(type) {
	case string:
		return strings.Contains(t, "${")
	case map[string]any:
		for _, e := range t {
			if unresolved(e) {
				return true
			}
		}
	case []any:
		for _, e := range t {
			if unresolved(e) {
				return true
			}
		}
	}
	return false
}
