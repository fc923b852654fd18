package httpanalyze

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"
	"unicode/utf8"
)

// jsonError is a JSON body that could not be decoded, with the byte offset
// where decoding failed.
type jsonError struct {
	msg    string
	offset int
}

func (e *jsonError) Error() string { return e.msg }

// decodeJSON decodes one JSON value with encoding/json (UseNumber, so
// numbers keep their text). Invalid UTF-8 and data after the value are
// errors: other parsers would read them differently.
func decodeJSON(body []byte) (any, *jsonError) {
	if !utf8.Valid(body) {
		off := 0
		for off < len(body) {
			r, w := utf8.DecodeRune(body[off:])
			if r == utf8.RuneError && w <= 1 {
				break
			}
			off += w
		}
		return nil, &jsonError{msg: "invalid UTF-8", offset: off}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		var se *json.SyntaxError
		switch {
		case errors.As(err, &se):
			return nil, &jsonError{msg: se.Error(), offset: int(se.Offset)}
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			return nil, &jsonError{msg: "unexpected end of JSON input", offset: len(body)}
		}
		return nil, &jsonError{msg: err.Error(), offset: int(dec.InputOffset())}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &jsonError{msg: "data after the JSON value", offset: int(dec.InputOffset())}
	}
	return v, nil
}

// duplicateKey finds the first object key that appears twice in the same
// object of a valid JSON document: parsers disagree about which value
// wins (encoding/json keeps the last one), so a policy could see another
// value than the upstream. It returns the key and the byte offset of its
// second occurrence.
func duplicateKey(data []byte) (string, int, bool) {
	type frame struct {
		object  bool
		wantKey bool
		keys    map[string]struct{}
	}
	var stack []frame
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '{':
			stack = append(stack, frame{object: true, wantKey: true})
		case '[':
			stack = append(stack, frame{})
		case '}', ']':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case ',':
			if n := len(stack); n > 0 && stack[n-1].object {
				stack[n-1].wantKey = true
			}
		case '"':
			j, escaped := i+1, false
			for j < len(data) && data[j] != '"' {
				if data[j] == '\\' {
					escaped = true
					j++
				}
				j++
			}
			if j >= len(data) {
				return "", 0, false
			}
			if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].wantKey {
				top := &stack[n-1]
				top.wantKey = false
				key := string(data[i+1 : j])
				if escaped {
					_ = json.Unmarshal(data[i:j+1], &key)
				}
				if _, dup := top.keys[key]; dup {
					return key, i, true
				}
				if top.keys == nil {
					top.keys = make(map[string]struct{}, 4)
				}
				top.keys[key] = struct{}{}
			}
			i = j
		}
	}
	return "", 0, false
}

// mediaType returns the lower-case media type of a Content-Type value, or
// "" when it is missing or malformed.
func mediaType(contentType string) string {
	if contentType == "" {
		return ""
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return ""
	}
	return strings.ToLower(mt)
}

// isJSONType reports application/json, text/json and the +json structured
// syntax suffix (application/problem+json, application/graphql+json...).
func isJSONType(mt string) bool {
	return mt == "application/json" || mt == "text/json" || strings.HasSuffix(mt, "+json")
}

// looksLikeJSON reports a body that starts (after white space) like a JSON
// object or array.
func looksLikeJSON(body []byte) bool {
	b := bytes.TrimLeft(body, " \t\r\n")
	return len(b) > 0 && (b[0] == '{' || b[0] == '[')
}

func sizeMessage(n int, limit int64, truncated bool) string {
	if truncated {
		return fmt.Sprintf("request body is larger than %d bytes; it was not analysed", limit)
	}
	return fmt.Sprintf("request body of %d bytes exceeds the limit of %d bytes; it was not analysed", n, limit)
}
