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
	b = jsonenc.OptString(b, `,"query":`, d.Query)
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
	b = append(b, `{"status":`...)
	b = strconv.AppendInt(b, int64(d.Status), 10)
	b = append(b, `,"duration_ms":`...)
	b = jsonenc.AppendFloat(b, d.DurationMS)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, d.Bytes, 10)
	b = jsonenc.OptInt(b, `,"review_id":`, int64(d.ReviewID))
	b = jsonenc.OptInt(b, `,"grant_id":`, int64(d.GrantID))
	b = jsonenc.OptString(b, `,"error":`, d.Error)
	return append(b, '}')
}
