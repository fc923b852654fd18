package postgres

import (
	"bufio"
	_ "embed"
	"fmt"
	"sort"
	"strings"
)

// funcClass is what qgate knows about a function.
type funcClass uint8

const (
	// classUnknown: not known to be side-effect free (user functions,
	// unlisted built-ins, safe names in a schema other than pg_catalog).
	classUnknown funcClass = iota
	// classSafe: a built-in free of side effects.
	classSafe
	// classSideEffect: a function with effects beyond its result.
	classSideEffect
	// classDynamic: a function that runs SQL given as text.
	classDynamic
)

func (c funcClass) String() string {
	switch c {
	case classSafe:
		return "safe"
	case classSideEffect:
		return "side_effect"
	case classDynamic:
		return "dynamic_sql"
	}
	return "unknown"
}

//go:embed functions.txt
var functionsData string

// catalog is the parsed functions.txt.
type catalog struct {
	exact     map[string]funcClass
	prefixes  []prefixRule // longest prefix first
	operators map[string]bool
}

type prefixRule struct {
	prefix string
	class  funcClass
}

// functions is the catalog every Analyzer uses. The data is embedded, so a
// malformed file is a programming error caught by the tests.
var functions = mustParseCatalog(functionsData)

func mustParseCatalog(data string) *catalog {
	c, err := parseCatalog(data)
	if err != nil {
		panic("analyze/postgres: functions.txt: " + err.Error())
	}
	return c
}

func parseCatalog(data string) (*catalog, error) {
	c := &catalog{exact: map[string]funcClass{}, operators: map[string]bool{}}
	section := ""
	seen := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
			section = s[1 : len(s)-1]
			switch section {
			case "safe", "side_effect", "dynamic_sql", "operators":
			default:
				return nil, fmt.Errorf("line %d: unknown section %q", line, s)
			}
			continue
		}
		if strings.ContainsAny(s, " \t") {
			return nil, fmt.Errorf("line %d: one name per line: %q", line, s)
		}
		if prev, dup := seen[s]; dup {
			return nil, fmt.Errorf("line %d: %q already listed in [%s]", line, s, prev)
		}
		seen[s] = section
		var class funcClass
		switch section {
		case "":
			return nil, fmt.Errorf("line %d: %q is outside any section", line, s)
		case "operators":
			c.operators[s] = true
			continue
		case "safe":
			class = classSafe
		case "side_effect":
			class = classSideEffect
		case "dynamic_sql":
			class = classDynamic
		}
		if s != strings.ToLower(s) {
			return nil, fmt.Errorf("line %d: names are lower case: %q", line, s)
		}
		if p, ok := strings.CutSuffix(s, "*"); ok {
			if class == classSafe {
				// A safe prefix would bless functions nobody reviewed.
				return nil, fmt.Errorf("line %d: prefix patterns are not allowed in [safe]: %q", line, s)
			}
			c.prefixes = append(c.prefixes, prefixRule{p, class})
			continue
		}
		c.exact[s] = class
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	sort.SliceStable(c.prefixes, func(i, j int) bool {
		return len(c.prefixes[i].prefix) > len(c.prefixes[j].prefix)
	})
	return c, nil
}

// lookup classifies an unqualified name.
func (c *catalog) lookup(name string) funcClass {
	if class, ok := c.exact[name]; ok {
		return class
	}
	for _, p := range c.prefixes {
		if strings.HasPrefix(name, p.prefix) {
			return p.class
		}
	}
	return classUnknown
}

// classify classifies a function called by the given name parts as the
// parser gives them (lower-cased unless quoted). A safe built-in is safe
// only unqualified or qualified with pg_catalog; a side-effect or dynamic
// name is recognised in any schema, because extensions (dblink, adminpack)
// are installed in whatever schema the DBA chose.
func (c *catalog) classify(parts []string) funcClass {
	if len(parts) == 0 {
		return classUnknown
	}
	class := c.lookup(parts[len(parts)-1])
	if len(parts) == 1 || (len(parts) == 2 && parts[0] == "pg_catalog") {
		return class
	}
	if class == classSafe {
		return classUnknown
	}
	return class
}

// builtinOperator reports whether an operator name (as in A_Expr.name) is
// a built-in operator symbol, unqualified or qualified with pg_catalog.
func (c *catalog) builtinOperator(parts []string) bool {
	switch {
	case len(parts) == 1:
		return c.operators[parts[0]]
	case len(parts) == 2 && parts[0] == "pg_catalog":
		return c.operators[parts[1]]
	}
	return false
}
