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
	if d.Params != 0 {
		b = append(b, `,"params":`...)
		b = strconv.AppendInt(b, int64(d.Params), 10)
	}
	b = append(b, `,"source_ip":`...)
	b = jsonenc.AppendString(b, d.SourceIP)
	b = append(b, `,"matched":`...)
	if d.Matched == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, m := range d.Matched {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"name":`...)
			b = jsonenc.AppendString(b, m.Name)
			b = append(b, `,"action":`...)
			b = jsonenc.AppendString(b, string(m.Action))
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"risk":`...)
	b = jsonenc.AppendString(b, d.Risk)
	b = append(b, `,"findings":`...)
	b = jsonenc.AppendStrings(b, d.Findings)
	if d.GrantID != 0 {
		b = append(b, `,"grant_id":`...)
		b = strconv.AppendInt(b, d.GrantID, 10)
	}
	if d.ReviewID != 0 {
		b = append(b, `,"review_id":`...)
		b = strconv.AppendInt(b, d.ReviewID, 10)
	}
	b = appendOptString(b, `,"message":`, d.Message)
	b = appendOptString(b, `,"decision":`, d.Decision)
	b = appendOptString(b, `,"reason":`, d.Reason)
	return append(b, '}')
}

func (d *executionData) appendJSON(b []byte) []byte {
	b = append(b, `{"tags":`...)
	b = jsonenc.AppendStrings(b, d.Tags)
	b = append(b, `,"rows":`...)
	b = strconv.AppendInt(b, d.Rows, 10)
	b = append(b, `,"duration_ms":`...)
	b = jsonenc.AppendFloat(b, d.DurationMS)
	b = appendOptString(b, `,"sqlstate":`, d.SQLState)
	if d.ReviewID != 0 {
		b = append(b, `,"review_id":`...)
		b = strconv.AppendInt(b, d.ReviewID, 10)
	}
	if d.GrantID != 0 {
		b = append(b, `,"grant_id":`...)
		b = strconv.AppendInt(b, d.GrantID, 10)
	}
	b = appendOptString(b, `,"error":`, d.Error)
	return append(b, '}')
}

func appendOptString(b []byte, key, v string) []byte {
	if v == "" {
		return b
	}
	b = append(b, key...)
	return jsonenc.AppendString(b, v)
}
