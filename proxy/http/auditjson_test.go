package httpproxy

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"

	"github.com/qgate/qgate"
)

// weird holds strings that exercise every escape encoding/json makes.
var weird = []string{
	"", "plain", `quote " and \ backslash`, "<script>&amp;</script>", "ctl \x00\x01\b\f\n\r\t\x1f\x7f",
	"utf-8 é ü 日本 🙂", "bad \xff\xfe utf-8 \xe2\x82", "line\u2028para\u2029sep", "/v1/users/42?x=1&y=<2>",
}

func wantSameJSON(t *testing.T, v jsonAppender) {
	t.Helper()
	want, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if got := v.appendJSON(nil); string(got) != string(want) {
		t.Errorf("appendJSON:\n got %s\nwant %s", got, want)
	}
}

func TestAppendJSON(t *testing.T) {
	t.Run("FieldsCovered", func(t *testing.T) {
		// A field added to the data types must be added to appendJSON
		// too: this lists the fields it knows.
		known := map[string][]string{
			"requestData":   {"Method", "Path", "Query", "SourceIP", "Matched", "Risk", "Findings", "GrantID", "ReviewID", "Message", "Decision", "Reason"},
			"executionData": {"Status", "DurationMS", "Bytes", "ReviewID", "GrantID", "Error"},
			"MatchedPolicy": {"Name", "Action"},
		}
		for _, typ := range []reflect.Type{reflect.TypeFor[requestData](), reflect.TypeFor[executionData](), reflect.TypeFor[qgate.MatchedPolicy]()} {
			var names []string
			for f := range typ.Fields() {
				names = append(names, f.Name)
			}
			if !reflect.DeepEqual(names, known[typ.Name()]) {
				t.Errorf("%s has fields %v; appendJSON knows %v", typ.Name(), names, known[typ.Name()])
			}
		}
	})
	t.Run("Request", func(t *testing.T) {
		wantSameJSON(t, &requestData{})
		wantSameJSON(t, &requestData{Matched: []qgate.MatchedPolicy{}, Findings: []string{}})
		for _, s := range weird {
			wantSameJSON(t, &requestData{Method: s, Path: s, Query: s, SourceIP: s,
				Matched: []qgate.MatchedPolicy{{Name: s, Action: qgate.Action(s)}, {Name: "reads", Action: qgate.ActionAllow}},
				Risk:    s, Findings: []string{s, "x"}, GrantID: -3, ReviewID: math.MaxInt64, Message: s, Decision: s, Reason: s})
		}
	})
	t.Run("Execution", func(t *testing.T) {
		wantSameJSON(t, &executionData{})
		for _, ms := range []float64{0, 0.001, 0.123, 1.5, 12345.678, 1e-7, -2.5, 1e21, 3e25} {
			wantSameJSON(t, &executionData{Status: 200, DurationMS: ms, Bytes: 86})
		}
		for _, s := range weird {
			wantSameJSON(t, &executionData{Status: 502, DurationMS: 1.25, Bytes: math.MinInt64, ReviewID: 7, GrantID: 9, Error: s})
		}
	})
}
