package main

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

// lintResourceRefs is the part of `lint` that Benthos' own lint cannot do, as it lints each
// file alone: a Mimecast component naming a cache or rate_limit resource that none of the
// linted files (the arguments and -r) defines, which `run` would refuse at start-up. It runs
// before Benthos' lint; its findings are the command's error, in Benthos' lint format.
func lintResourceRefs(c *cli.Context) error {
	if c.Command == nil || c.Command.Name != "lint" {
		return nil
	}
	targets, err := lintTargets(append(c.Args().Slice(), c.StringSlice("resources")...))
	if err != nil {
		return nil // Benthos' lint reports unreadable targets itself
	}
	if lints := resourceRefLints(targets); len(lints) > 0 {
		return errors.New(strings.Join(lints, "\n"))
	}
	return nil
}

// lintTargets expands lint's arguments as Benthos does: files, glob patterns, and directories
// ending in /... walked for .yaml and .yml files. Markdown files are left to Benthos.
func lintTargets(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		if dir, ok := strings.CutSuffix(a, "..."); ok {
			err := filepath.WalkDir(filepath.Clean(dir+"."), func(p string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() && (filepath.Ext(p) == ".yaml" || filepath.Ext(p) == ".yml") {
					out = append(out, p)
				}
				return err
			})
			if err != nil {
				return nil, err
			}
			continue
		}
		matches, err := filepath.Glob(a)
		if err != nil {
			return nil, err
		}
		for _, m := range matches {
			if filepath.Ext(m) != ".md" {
				out = append(out, m)
			}
		}
	}
	return out, nil
}

// resourceRefLints lists, in Benthos' lint format, every resource a Mimecast component of the
// files names that none of them defines. Unreadable files and unset variables are Benthos'
// lint's to report.
func resourceRefLints(paths []string) []string {
	var files []configFile
	for _, p := range paths {
		if f, _, err := readConfigFile(p, os.LookupEnv); err == nil {
			files = append(files, f)
		}
	}
	var caches, rateLimits []string
	for _, f := range files {
		caches = append(caches, resourceLabels(f, "cache_resources")...)
		rateLimits = append(rateLimits, resourceLabels(f, "rate_limit_resources")...)
	}
	type lint struct {
		file, text string
		line       int
	}
	var found []lint
	for _, f := range files {
		for _, comp := range findComponents(f) {
			for _, u := range comp.undefinedResources(caches, rateLimits) {
				found = append(found, lint{f.name, fmt.Sprintf("%s(%d,1) %s", f.name, u.line, u.msg), u.line})
			}
		}
	}
	// In file order, then line order, as Benthos lists its lints.
	slices.SortStableFunc(found, func(a, b lint) int {
		return cmp.Or(slices.Index(paths, a.file)-slices.Index(paths, b.file), a.line-b.line)
	})
	lints := make([]string, len(found))
	for i, l := range found {
		lints[i] = l.text
	}
	return lints
}
