package pgproxy

import (
	"strconv"
	"unicode/utf8"
)

// The audit data of every statement is encoded by hand: encoding/json's
// reflection was a visible share of the per-statement cost. The output is
// what json.Marshal produces for the same struct (auditjson_test.go checks
// it), field order and escaping included.

func (d *requestData) appendJSON(b []byte) []byte {
	b = append(b, `{"sql":`...)
	b = appendJSONString(b, d.SQL)
	if d.SQLTruncated {
		b = append(b, `,"sql_truncated":true`...)
	}
	b = append(b, `,"protocol":`...)
	b = appendJSONString(b, d.Protocol)
	if d.Params != 0 {
		b = append(b, `,"params":`...)
		b = strconv.AppendInt(b, int64(d.Params), 10)
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
	b = appendOptString(b, `,"message":`, d.Message)
	b = appendOptString(b, `,"decision":`, d.Decision)
	b = appendOptString(b, `,"reason":`, d.Reason)
	return append(b, '}')
}

func (d *executionData) appendJSON(b []byte) []byte {
	b = append(b, `{"tags":`...)
	b = appendJSONStrings(b, d.Tags)
	b = append(b, `,"rows":`...)
	b = strconv.AppendInt(b, d.Rows, 10)
	b = append(b, `,"duration_ms":`...)
	b = appendJSONFloat(b, d.DurationMS)
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
	return appendJSONString(b, v)
}

func appendJSONStrings(b []byte, vs []string) []byte {
	if vs == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, v)
	}
	return append(b, ']')
}

// appendJSONFloat formats a float64 as encoding/json does.
func appendJSONFloat(b []byte, f float64) []byte {
	abs := f
	if abs < 0 {
		abs = -abs
	}
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

// appendJSONString quotes s as encoding/json does, HTML escaping included
// (<, > and & as \u003c, \u003e, \u0026; U+2028 and U+2029 escaped;
// invalid UTF-8 as U+FFFD).
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
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
