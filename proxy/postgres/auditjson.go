package pgproxy

import (
	"strconv"

	"github.com/qgate/qgate/internal/jsonenc"
)

// The audit data of every statement is encoded by hand: encoding/json's
// reflection was a visible share of the per-statement cost. The output is
// what json.Marshal produces for the same struct (auditjson_test.go checks
// it), field order and escaping included.

func (d *requestData) appendJSON(b []byte) []byte {
	b = append(b, `{"sql":`...)
	b = jsonenc.AppendString(b, d.SQL)
	if d.SQLTruncated {
		b = append(b, `,"sql_truncated":true`...)
	}
	b = append(b, `,"protocol":`...)
	b = jsonenc.AppendString(b, d.Protocol)
	b = jsonenc.OptInt(b, `,"params":`, int64(d.Params))
	b = append(b, `,"source_ip":`...)
	b = jsonenc.AppendString(b, d.SourceIP)
	b = append(b, `,"matched":`...)
	b = jsonenc.AppendMatched(b, d.Matched)
	b = append(b, `,"risk":`...)
	b = jsonenc.AppendString(b, d.Risk)
	b = append(b, `,"findings":`...)
	b = jsonenc.AppendStrings(b, d.Findings)
	b = jsonenc.OptInt(b, `,"grant_id":`, int64(d.GrantID))
	b = jsonenc.OptInt(b, `,"review_id":`, int64(d.ReviewID))
	b = jsonenc.OptString(b, `,"message":`, d.Message)
	b = jsonenc.OptString(b, `,"decision":`, d.Decision)
	b = jsonenc.OptString(b, `,"reason":`, d.Reason)
	return append(b, '}')
}

func (d *executionData) appendJSON(b []byte) []byte {
	b = append(b, `{"tags":`...)
	b = jsonenc.AppendStrings(b, d.Tags)
	b = append(b, `,"rows":`...)
	b = strconv.AppendInt(b, d.Rows, 10)
	b = append(b, `,"duration_ms":`...)
	b = jsonenc.AppendFloat(b, d.DurationMS)
	b = jsonenc.OptString(b, `,"sqlstate":`, d.SQLState)
	b = jsonenc.OptInt(b, `,"review_id":`, int64(d.ReviewID))
	b = jsonenc.OptInt(b, `,"grant_id":`, int64(d.GrantID))
	b = jsonenc.OptString(b, `,"error":`, d.Error)
	return append(b, '}')
}
