package httpproxy

import (
	"strconv"

	"github.com/qgate/qgate/internal/jsonenc"
)

// Every allowed call appends two audit events, so their Data is encoded by
// hand rather than by encoding/json's reflection; the output is byte for
// byte what json.Marshal makes of the same struct (auditjson_test.go
// checks it, field by field).

// jsonAppender is audit data that encodes itself.
type jsonAppender interface {
	appendJSON(b []byte) []byte
}

func (d *requestData) appendJSON(b []byte) []byte {
	b = append(b, `{"method":`...)
	b = jsonenc.AppendString(b, d.Method)
	b = append(b, `,"path":`...)
	b = jsonenc.AppendString(b, d.Path)
	if d.Query != "" {
		b = append(b, `,"query":`...)
		b = jsonenc.AppendString(b, d.Query)
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
	if d.Message != "" {
		b = append(b, `,"message":`...)
		b = jsonenc.AppendString(b, d.Message)
	}
	if d.Decision != "" {
		b = append(b, `,"decision":`...)
		b = jsonenc.AppendString(b, d.Decision)
	}
	if d.Reason != "" {
		b = append(b, `,"reason":`...)
		b = jsonenc.AppendString(b, d.Reason)
	}
	return append(b, '}')
}

func (d *executionData) appendJSON(b []byte) []byte {
	b = append(b, `{"status":`...)
	b = strconv.AppendInt(b, int64(d.Status), 10)
	b = append(b, `,"duration_ms":`...)
	b = jsonenc.AppendFloat(b, d.DurationMS)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, d.Bytes, 10)
	if d.ReviewID != 0 {
		b = append(b, `,"review_id":`...)
		b = strconv.AppendInt(b, d.ReviewID, 10)
	}
	if d.GrantID != 0 {
		b = append(b, `,"grant_id":`...)
		b = strconv.AppendInt(b, d.GrantID, 10)
	}
	if d.Error != "" {
		b = append(b, `,"error":`...)
		b = jsonenc.AppendString(b, d.Error)
	}
	return append(b, '}')
}
