package httpanalyze

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/qgate/qgate"
	gql "github.com/qgate/qgate/analyze/graphql"
)

// IsGraphQLPath reports whether the normalised path addresses the GraphQL
// endpoint graphqlPath. The comparison is lenient on purpose, so that a
// variant that the upstream may route to the same handler cannot skip the
// GraphQL analysis: case is ignored, a trailing slash is ignored and path
// parameters (";x", which Java servers strip) are ignored.
func IsGraphQLPath(path, graphqlPath string) bool {
	if graphqlPath == "" {
		return false
	}
	if p, err := NormalizePath(graphqlPath); err == nil {
		graphqlPath = p
	}
	return strings.EqualFold(looseGraphQLPath(path), looseGraphQLPath(graphqlPath))
}

func looseGraphQLPath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i], _, _ = strings.Cut(s, ";")
	}
	return strings.TrimRight(strings.Join(segs, "/"), "/")
}

// analyzeGraphQL fills a.GraphQL and adds GraphQL findings; the package
// documentation says where the payload is read from.
func analyzeGraphQL(a *qgate.HTTPAnalysis, method string, b *bodyInfo, body []byte) {
	reqs, err := graphQLRequests(a.Query, b, body)
	var res gql.Result
	switch {
	case err != nil:
		res = gql.ErrorResult(err)
	case reqs == nil && (method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions):
		a.GraphQL = qgate.GraphQLAnalysis{Present: true, ReadOnly: true, Operations: []qgate.GraphQLOperation{}}
		return
	case reqs == nil:
		res = gql.ErrorResult(errors.New("missing query"))
	default:
		res = gql.AnalyzeRequests(reqs)
	}
	a.GraphQL = res.Analysis
	a.Findings = append(a.Findings, res.Findings(method == http.MethodGet || method == http.MethodHead)...)
}

// graphQLRequests extracts the GraphQL requests; nil, nil when the
// request carries none.
func graphQLRequests(query url.Values, b *bodyInfo, body []byte) ([]gql.Request, error) {
	inURL := gql.HasParams(query)
	hasBody := len(bytes.TrimSpace(body)) > 0 || b.refused != ""
	switch {
	case inURL && hasBody:
		return nil, errors.New("GraphQL request in both the URL and the body")
	case inURL:
		r, err := gql.RequestFromValues(query)
		if err != nil {
			return nil, err
		}
		return []gql.Request{r}, nil
	case !hasBody:
		return nil, nil
	case b.refused != "":
		return nil, fmt.Errorf("body not analysed: %s", b.refused)
	}
	switch mt := b.mediaType; {
	case isJSONType(mt):
		if b.jsonErr != nil {
			return nil, fmt.Errorf("invalid JSON body: %s", b.jsonErr.msg)
		}
		if b.dupKey != "" {
			return nil, fmt.Errorf("JSON key %q appears twice in one object", b.dupKey)
		}
		return gql.RequestsFromJSON(b.json)
	case mt == "application/graphql":
		if !utf8.Valid(body) {
			return nil, errors.New("query is not valid UTF-8")
		}
		return []gql.Request{{Query: string(body)}}, nil
	case mt == "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, fmt.Errorf("invalid form body: %v", err)
		}
		r, err := gql.RequestFromValues(form)
		if err != nil {
			return nil, err
		}
		return []gql.Request{r}, nil
	case mt == "":
		return nil, errors.New("GraphQL body without a Content-Type")
	}
	return nil, fmt.Errorf("unsupported Content-Type %q for a GraphQL request", b.mediaType)
}
