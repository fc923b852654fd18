// Package policy evaluates qgate's CEL policies.
//
// Every `when` expression is compiled and type-checked once, when the
// configuration loads: a misspelt variable or field is a configuration
// error with its position, not a surprise at run time. Evaluation is
// bounded by a cost limit.
//
// Decision semantics (product contract): every policy whose targets and
// environments cover the request is evaluated; among those whose condition
// holds, the strongest action wins, deny over review over allow. If none
// holds, the environment's default applies, and an environment without a
// default is review. When several review policies hold, each one's
// approvers and quorum must be met.
//
// Errors fail closed. A condition that fails at run time (a missing map
// key, the cost limit) counts as true for deny and review policies and as
// false for allow policies, and adds a policy.error finding. SQL that did
// not parse, an ambiguous HTTP path, an oversized body and an unparsable
// GraphQL document are denied before any policy runs.
package policy
