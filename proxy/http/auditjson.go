package httpproxy

import (
	"math"
	"strconv"
	"unicode/utf8"
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
	b = appendJSONString(b, d.Method)
	b = append(b, `,"path":`...)
	b = appendJSONString(b, d.Path)
	if d.Query != "" {
		b = append(b, `,"query":`...)
		b = appendJSONString(b, d.Query)
	}
	b = append(b, `,"source_ip":`...)
	b = appendJSONString(b, d.SourceIP)
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
			b = appendJSONString(b, m.Name)
			b = append(b, `,"action":`...)
			b = appendJSONString(b, string(m.Action))
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"risk":`...)
	b = appendJSONString(b, d.Risk)
	b = append(b, `,"findings":`...)
	b = appendJSONStrings(b, d.Findings)
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
		b = appendJSONString(b, d.Message)
	}
	if d.Decision != "" {
		b = append(b, `,"decision":`...)
		b = appendJSONString(b, d.Decision)
	}
	if d.Reason != "" {
		b = append(b, `,"reason":`...)
		b = appendJSONString(b, d.Reason)
	}
	return append(b, '}')
}

func (d *executionData) appendJSON(b []byte) []byte {
	b = append(b, `{"status":`...)
	b = strconv.AppendInt(b, int64(d.Status), 10)
	b = append(b, `,"duration_ms":`...)
	b = appendJSONFloat(b, d.DurationMS)
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
		b = appendJSONString(b, d.Error)
	}
	return append(b, '}')
}

func appendJSONStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

// appendJSONFloat encodes f as encoding/json does. It must be finite:
// durations always are.
func appendJSONFloat(b []byte, f float64) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendJSONString encodes s as encoding/json does by default: <, > and &
// escaped for HTML, invalid UTF-8 replaced by U+FFFD, U+2028 and U+2029
// escaped.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
