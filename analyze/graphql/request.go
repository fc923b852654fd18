package graphql

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
)

// Request is one GraphQL request: a query document and the operation the
// client asked for. HasOperationName distinguishes an absent or null
// operationName from a given one; an empty name counts as absent.
type Request struct {
	Query            string
	OperationName    string
	HasOperationName bool
}

// Parameter names of the GraphQL-over-HTTP request envelope.
const (
	ParamQuery         = "query"
	ParamOperationName = "operationName"
	ParamVariables     = "variables"
	ParamExtensions    = "extensions"
)

// Params lists the envelope's parameter names.
func Params() []string {
	return []string{ParamQuery, ParamOperationName, ParamVariables, ParamExtensions}
}

// persistedParams name a stored document instead of sending the query
// (GraphQL-over-HTTP persisted documents, Relay, and others). qgate cannot
// see what they run, so requests that carry them are refused.
var persistedParams = []string{"documentId", "doc_id", "id", "queryId", "query_id"}

// HasParams reports whether v holds any GraphQL envelope parameter, or a
// persisted-document parameter.
func HasParams(v url.Values) bool {
	for _, p := range append(Params(), persistedParams...) {
		if _, ok := v[p]; ok {
			return true
		}
	}
	return false
}

// RequestsFromJSON turns a decoded JSON body (an object, or a batch: an
// array of objects) into requests. v is what encoding/json decodes into an
// any (with or without UseNumber).
func RequestsFromJSON(v any) ([]Request, error) {
	switch t := v.(type) {
	case map[string]any:
		r, err := requestFromObject(t)
		if err != nil {
			return nil, err
		}
		return []Request{r}, nil
	case []any:
		if len(t) == 0 {
			return nil, errors.New("empty batch")
		}
		reqs := make([]Request, 0, len(t))
		for i, e := range t {
			m, ok := e.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("batch element %d is not an object", i)
			}
			r, err := requestFromObject(m)
			if err != nil {
				return nil, fmt.Errorf("batch element %d: %w", i, err)
			}
			reqs = append(reqs, r)
		}
		return reqs, nil
	}
	return nil, errors.New("GraphQL body must be a JSON object or an array of objects")
}

func requestFromObject(m map[string]any) (Request, error) {
	var r Request
	var unknown []string
	for k := range m {
		switch k {
		case ParamQuery, ParamOperationName, ParamVariables, ParamExtensions:
		default:
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return r, fmt.Errorf("unsupported key %q in GraphQL request", unknown[0])
	}
	q, ok := m[ParamQuery]
	if !ok {
		return r, errors.New("query is missing")
	}
	s, ok := q.(string)
	if !ok {
		return r, errors.New("query is not a string")
	}
	r.Query = s
	switch n := m[ParamOperationName].(type) {
	case nil:
	case string:
		r.OperationName, r.HasOperationName = n, true
	default:
		return r, errors.New("operationName is not a string")
	}
	switch m[ParamVariables].(type) {
	case nil, map[string]any, string:
	default:
		return r, errors.New("variables is not an object")
	}
	return r, checkExtensions(m[ParamExtensions])
}

func checkExtensions(v any) error {
	switch e := v.(type) {
	case nil:
		return nil
	case map[string]any:
		if _, ok := e["persistedQuery"]; ok {
			return errors.New("persisted queries are not supported: the server may run a stored document instead of the query")
		}
		return nil
	}
	return errors.New("extensions is not an object")
}

// RequestFromValues reads a request from URL query or form parameters:
// query, operationName, variables (a JSON string) and extensions. Each may
// appear at most once, since servers disagree about which of several wins.
// Persisted-document parameters (documentId, doc_id, id, queryId,
// query_id) and a persistedQuery extension are refused. Other parameters
// are ignored.
func RequestFromValues(v url.Values) (Request, error) {
	var r Request
	for _, p := range persistedParams {
		if _, ok := v[p]; ok {
			return r, fmt.Errorf("persisted documents are not supported: parameter %q names a stored document", p)
		}
	}
	for _, p := range Params() {
		if len(v[p]) > 1 {
			return r, fmt.Errorf("parameter %q is repeated", p)
		}
	}
	if e := v[ParamExtensions]; len(e) > 0 && strings.TrimSpace(e[0]) != "" {
		var ext any
		if err := json.Unmarshal([]byte(e[0]), &ext); err != nil {
			return r, fmt.Errorf("extensions is not valid JSON: %v", err)
		}
		if err := checkExtensions(ext); err != nil {
			return r, err
		}
	}
	q := v[ParamQuery]
	if len(q) == 0 {
		return r, errors.New("query is missing")
	}
	r.Query = q[0]
	if n := v[ParamOperationName]; len(n) > 0 {
		r.OperationName, r.HasOperationName = n[0], true
	}
	return r, nil
}
