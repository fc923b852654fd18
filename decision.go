package qgate

import (
	"encoding/json"
	"time"
)

// Action is what a policy or decision says to do with a request.
type Action string

const (
	ActionAllow  Action = "allow"
	ActionReview Action = "review"
	ActionDeny   Action = "deny"
)

// Strength orders actions: deny beats review beats allow. Unknown actions
// are the strongest of all so that a mistake fails closed.
func (a Action) Strength() int {
	switch a {
	case ActionAllow:
		return 0
	case ActionReview:
		return 1
	case ActionDeny:
		return 2
	}
	return 3
}

// Valid reports whether a is one of the three actions.
func (a Action) Valid() bool {
	return a == ActionAllow || a == ActionReview || a == ActionDeny
}

// MatchedPolicy names a policy whose condition held for a request.
type MatchedPolicy struct {
	Name   string `json:"name"`
	Action Action `json:"action"`
}

// ReviewRequirement is what one review policy asks for: Quorum distinct
// people from any of the Approvers groups must approve within Timeout.
type ReviewRequirement struct {
	Policy    string        `json:"policy"`
	Approvers []string      `json:"approvers"`
	Quorum    int           `json:"quorum"`
	Timeout   time.Duration `json:"-"`
	SlackMode string        `json:"slack,omitempty"`
}

type reviewRequirementJSON struct {
	Policy    string   `json:"policy"`
	Approvers []string `json:"approvers"`
	Quorum    int      `json:"quorum"`
	Timeout   string   `json:"timeout"`
	SlackMode string   `json:"slack,omitempty"`
}

func (r ReviewRequirement) MarshalJSON() ([]byte, error) {
	return json.Marshal(reviewRequirementJSON{r.Policy, r.Approvers, r.Quorum, r.Timeout.String(), r.SlackMode})
}

func (r *ReviewRequirement) UnmarshalJSON(b []byte) error {
	var v reviewRequirementJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	d, err := time.ParseDuration(v.Timeout)
	if v.Timeout != "" && err != nil {
		return err
	}
	*r = ReviewRequirement{v.Policy, v.Approvers, v.Quorum, d, v.SlackMode}
	return nil
}

// Decision is the outcome for one request.
type Decision struct {
	Action       Action              `json:"decision"`
	Matched      []MatchedPolicy     `json:"matched"`
	Requirements []ReviewRequirement `json:"requirements,omitempty"`
	Risk         Risk                `json:"risk"`
	// Message explains the decision to the client (the deny policy's
	// message, or why the gate refused on its own).
	Message string `json:"message,omitempty"`
	// Default is true when no policy matched and the environment's default
	// action applied.
	Default bool `json:"default"`
	// GrantID is set when an active grant turned a review into an allow.
	GrantID int64 `json:"grant_id,omitempty"`
}

// Timeout returns the shortest timeout among the requirements, or def when
// none sets one.
func (d *Decision) Timeout(def time.Duration) time.Duration {
	t := time.Duration(0)
	for _, r := range d.Requirements {
		if r.Timeout > 0 && (t == 0 || r.Timeout < t) {
			t = r.Timeout
		}
	}
	if t == 0 {
		return def
	}
	return t
}
