// Package graphql analyses GraphQL request payloads without a schema.
//
// qgate has no schema for the APIs it fronts, so it parses each query
// document with gqlparser's schema-less parser and reports, for every
// operation the request can execute, its type (query, mutation,
// subscription), its name and its top-level field names after expanding
// fragment spreads and inline fragments. Field names are the schema names,
// never aliases: `safe: deleteUser(id: 1)` reports deleteUser.
//
// Which operations can execute:
//
//   - operationName given (non-empty): only the operation of that name; if
//     it is missing the request is refused ("operation X not found");
//   - operationName absent, null or "": the document must hold exactly one
//     operation (an anonymous `{ a }` shorthand is a query);
//   - a batch (JSON array) executes every element, so its operations are
//     merged.
//
// Everything odd fails closed: ParseError is set, ReadOnly is false and the
// gate denies the request. That covers syntax errors (the message carries
// the parser's line:column), an empty query, a document with no operation,
// several operations without operationName, duplicate operation or
// fragment names, an anonymous operation next to others, unknown or cyclic
// fragments, fragment nesting deeper than MaxFragmentDepth, documents over
// MaxTokens tokens or too expensive to expand, invalid UTF-8, and request
// envelopes that are not what GraphQL-over-HTTP servers agree on (query not
// a string, operationName not a string, batch elements that are not
// objects, repeated URL parameters, and persisted documents or queries
// (a persistedQuery extension, documentId/doc_id/id/queryId parameters,
// unknown JSON keys), which make the server run a stored document that
// qgate cannot see).
//
// ReadOnly is true only when the request is present, nothing failed and
// every executable operation is a query.
//
// Offsets: Result.Spans gives, for each operation, the byte range of the
// operation in its own query string (from its keyword or opening brace to
// its closing brace). When the query arrived inside a JSON body, the
// offsets are into the decoded query string, not into the body; for an
// application/graphql body the two are the same.
//
// RequestsFromJSON and RequestFromValues turn the decoded pieces of an HTTP
// request (a JSON body, URL or form parameters) into Requests; the HTTP
// analyzer decides which of them applies.
package graphql
