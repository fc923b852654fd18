package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Problem is one thing wrong with a configuration file, with its position.
type Problem struct {
	File    string
	Line    int
	Message string
}

func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Message)
	}
	return fmt.Sprintf("%s: %s", p.File, p.Message)
}

// Error lists every problem found in a configuration file.
type Error struct {
	Problems []Problem
}

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return "invalid configuration:\n  " + strings.Join(lines, "\n  ")
}

// Load reads, decodes and validates the configuration file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data, os.LookupEnv)
}

// Parse decodes and validates a configuration document. name is used in
// messages; lookupEnv resolves environment variables (os.LookupEnv).
func Parse(name string, data []byte, lookupEnv func(string) (string, bool)) (*Config, error) {
	l := &loader{file: name, env: lookupEnv}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		l.yamlError(err)
		return nil, l.err()
	}
	if len(doc.Content) == 0 {
		l.problem(0, "the file is empty")
		return nil, l.err()
	}
	l.root = doc.Content[0]
	l.checkKeys(l.root, reflect.TypeOf(fileConfig{}), "")
	var fc fileConfig
	if err := l.root.Decode(&fc); err != nil {
		l.yamlError(err)
	}
	cfg := l.build(&fc)
	if len(l.problems) > 0 {
		return nil, l.err()
	}
	return cfg, nil
}

type loader struct {
	file     string
	root     *yaml.Node
	env      func(string) (string, bool)
	problems []Problem
}

func (l *loader) problem(line int, format string, args ...any) {
	l.problems = append(l.problems, Problem{File: l.file, Line: line, Message: fmt.Sprintf(format, args...)})
}

func (l *loader) err() error {
	sort.SliceStable(l.problems, func(i, j int) bool { return l.problems[i].Line < l.problems[j].Line })
	return &Error{Problems: l.problems}
}

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// yamlError turns the yaml package's errors into positioned problems.
func (l *loader) yamlError(err error) {
	var te *yaml.TypeError
	msgs := []string{err.Error()}
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	for _, m := range msgs {
		if sub := yamlLine.FindStringSubmatch(m); sub != nil {
			n, _ := strconv.Atoi(sub[1])
			l.problem(n, "%s", sub[2])
			continue
		}
		l.problem(0, "%s", strings.TrimPrefix(m, "yaml: "))
	}
}

var unmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()

// checkKeys walks the document beside the Go type it decodes into and
// reports every mapping key that the type does not have.
func (l *loader) checkKeys(n *yaml.Node, t reflect.Type, path string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			if n.Tag != "!!null" {
				l.problem(n.Line, "%s: want a mapping", orRoot(path))
			}
			return
		}
		fields := map[string]reflect.Type{}
		var names []string
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if tag == "" || tag == "-" {
				continue
			}
			fields[tag] = f.Type
			names = append(names, tag)
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			ft, ok := fields[k.Value]
			if !ok {
				l.problem(k.Line, "unknown key %q in %s (known keys: %s)", k.Value, orRoot(path), strings.Join(names, ", "))
				continue
			}
			l.checkKeys(v, ft, join(path, k.Value))
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			if n.Tag != "!!null" {
				l.problem(n.Line, "%s: want a list", orRoot(path))
			}
			return
		}
		for i, c := range n.Content {
			l.checkKeys(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			if n.Tag != "!!null" {
				l.problem(n.Line, "%s: want a mapping", orRoot(path))
			}
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			l.checkKeys(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value))
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func orRoot(path string) string {
	if path == "" {
		return "the top level"
	}
	return path
}

// line returns the line of the node at the given path of keys (string) and
// list indexes (int), or of the deepest node that exists on the way.
func (l *loader) line(path ...any) int {
	for i := len(path); i >= 0; i-- {
		if n := l.node(path[:i]...); n != nil {
			return n.Line
		}
	}
	return 0
}

// node returns the node at path, or nil.
func (l *loader) node(path ...any) *yaml.Node {
	n := l.root
	for _, p := range path {
		if n == nil {
			return nil
		}
		var next *yaml.Node
		switch p := p.(type) {
		case string:
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == p {
						next = n.Content[i+1]
						break
					}
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && p < len(n.Content) {
				next = n.Content[p]
			}
		}
		n = next
	}
	return n
}
