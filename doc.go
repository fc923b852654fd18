// Package qgate is the shared vocabulary of the qgate gateway: requests and
// their analysis, decisions, reviews, grants, tokens, identities and audit
// events, plus the small interfaces between the parts that produce and
// consume them (stores, analyzers, notifiers).
//
// This package imports only the standard library. Every other package
// depends on it; it depends on none of them. Protocol engines (proxy/...)
// turn bytes into a Request, the gate package turns a Request into a
// Decision, and the review and audit packages record what happens next.
package qgate
