package qgate

import "time"

// Policy is a named rule from the configuration. When is a CEL expression
// over the variables request, token, sql, http and risk.
type Policy struct {
	Name         string
	Targets      []string // empty: every target
	Environments []string // empty: every environment
	When         string
	Action       Action
	Message      string
	Review       *ReviewSpec // only for ActionReview
}

// ReviewSpec says who must approve a request held by a review policy.
type ReviewSpec struct {
	Approvers []string // group names (or identity names)
	Quorum    int
	Timeout   time.Duration
	// Slack is "approve" (buttons that decide) or "link" (a link to the web
	// page only, for teams that want approvals behind SSO).
	Slack string
}

// AppliesTo reports whether the policy covers the given target and
// environment.
func (p *Policy) AppliesTo(target, environment string) bool {
	return (len(p.Targets) == 0 || contains(p.Targets, target)) &&
		(len(p.Environments) == 0 || contains(p.Environments, environment))
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
