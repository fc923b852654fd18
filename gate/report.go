package gate

import "github.com/qgate/qgate"

// Report is the JSON object that `qgate check` prints and that the web
// API's POST /api/v1/check answers: the decision, the matched policies,
// the review requirements, the risk, the request's identifying fields, the
// token and the analysed sql or http object. Its shape is a contract that
// scripts rely on: add keys, never rename them.
func Report(req *qgate.Request, d qgate.Decision) map[string]any {
	out := map[string]any{
		"decision":     d.Action,
		"matched":      d.Matched,
		"requirements": d.Requirements,
		"risk":         d.Risk,
		"message":      d.Message,
		"default":      d.Default,
		"request": map[string]any{
			"id": req.ID, "protocol": req.Protocol, "target": req.Target,
			"environment": req.Environment, "source_ip": req.SourceIP, "time": req.Time,
		},
		"token": req.Principal,
	}
	if d.Matched == nil {
		out["matched"] = []qgate.MatchedPolicy{}
	}
	if d.Requirements == nil {
		out["requirements"] = []qgate.ReviewRequirement{}
	}
	if req.SQL != nil {
		out["sql"] = req.SQL
	}
	if req.HTTP != nil {
		out["http"] = req.HTTP
	}
	return out
}
