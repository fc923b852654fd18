package pgproxy

import (
	"encoding/json"
	"testing"

	"github.com/qgate/qgate"
)

func TestAuditJSONMatchesEncodingJSON(t *testing.T) {
	sqls := []string{"", "SELECT 1", "select '<a>' & \"q\" \\ \n\t\r\b\f \x01 \x7f", "é ü 日本 \u2028 \u2029 😀", "bad \xff\xfe utf8", "x\x00y"}
	for _, sql := range sqls {
		for _, d := range []requestData{
			{SQL: sql, Protocol: "simple", SourceIP: "127.0.0.1", Matched: []qgate.MatchedPolicy{}, Risk: "low", Findings: []string{}},
			{SQL: sql, SQLTruncated: true, Protocol: "extended", Params: 3, SourceIP: "::1", Risk: "high",
				Matched:  []qgate.MatchedPolicy{{Name: sql, Action: qgate.ActionAllow}, {Name: "b", Action: qgate.ActionDeny}},
				Findings: []string{"a", sql}, GrantID: 7, ReviewID: -9, Message: sql, Decision: "review", Reason: "r"},
		} {
			want, _ := json.Marshal(d)
			if got := d.appendJSON(nil); string(got) != string(want) {
				t.Errorf("request data:\n got %s\nwant %s", got, want)
			}
		}
		for _, ms := range []float64{0, 0.001, 1.5, 123456.789, 1e-7, 3e21, 12} {
			for _, d := range []executionData{
				{Tags: []string{}, DurationMS: ms},
				{Tags: []string{"SELECT 1", sql}, Rows: 42, DurationMS: ms, SQLState: "42501", ReviewID: 3, GrantID: 4, Error: sql},
				{DurationMS: -ms},
			} {
				want, _ := json.Marshal(d)
				if got := d.appendJSON(nil); string(got) != string(want) {
					t.Errorf("execution data:\n got %s\nwant %s", got, want)
				}
			}
		}
	}
}

func BenchmarkAuditJSON(b *testing.B) {
	d := requestData{SQL: "SELECT abalance FROM pgbench_accounts WHERE aid = 12345;", Protocol: "simple", SourceIP: "127.0.0.1",
		Matched: []qgate.MatchedPolicy{{Name: "allow-everything", Action: qgate.ActionAllow}}, Risk: "low", Findings: []string{}}
	b.Run("hand", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			d.appendJSON(make([]byte, 0, 256+len(d.SQL)))
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			json.Marshal(d)
		}
	})
}
