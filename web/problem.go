package web

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"runtime/debug"
	"strings"

	"github.com/qgate/qgate"
)

// MaxBodySize bounds request bodies.
const MaxBodySize = 64 << 10

// Problem is an RFC 9457 problem document, the body of every error
// response. Code is the qgate error code (qgate.EFORBIDDEN, ...); ErrorID
// names the log line of an internal error.
//
// A *Problem is also the error Client returns for an error response; it
// unwraps to a *qgate.Error with the same code and Detail as its message,
// so qgate.ErrorCode and qgate.ErrorMessage work on it.
type Problem struct {
	Type    string `json:"type"`
	Title   string `json:"title"`
	Status  int    `json:"status"`
	Detail  string `json:"detail,omitempty"`
	Code    string `json:"code"`
	ErrorID string `json:"error_id,omitempty"`
}

func (p *Problem) Error() string {
	if p.Detail == "" {
		return fmt.Sprintf("%d %s", p.Status, p.Title)
	}
	return p.Detail
}

// Unwrap returns the problem as a qgate error.
func (p *Problem) Unwrap() error {
	code := p.Code
	if code == "" {
		code = codeOf(p.Status)
	}
	return &qgate.Error{Code: code, Message: p.Error()}
}

// problemType is the problem's type URI for a qgate error code.
func problemType(code string) string { return "urn:qgate:error:" + code }

// statusOf translates a qgate error code to an HTTP status.
func statusOf(code string) int {
	switch code {
	case qgate.EINVALID:
		return http.StatusBadRequest
	case qgate.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case qgate.EFORBIDDEN:
		return http.StatusForbidden
	case qgate.ENOTFOUND:
		return http.StatusNotFound
	case qgate.ECONFLICT, qgate.EEXPIRED:
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}

// codeOf is the inverse of statusOf, for responses without a code.
func codeOf(status int) string {
	switch {
	case status == http.StatusUnauthorized:
		return qgate.EUNAUTHORIZED
	case status == http.StatusForbidden:
		return qgate.EFORBIDDEN
	case status == http.StatusNotFound:
		return qgate.ENOTFOUND
	case status == http.StatusConflict:
		return qgate.ECONFLICT
	case status >= 400 && status < 500:
		return qgate.EINVALID
	}
	return qgate.EINTERNAL
}

// fail writes err as a problem. Internal errors are logged with a new
// error id, and the client gets only a safe message and that id.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var p *Problem
	if !errors.As(err, &p) {
		code := qgate.ErrorCode(err)
		p = &Problem{Status: statusOf(code), Code: code, Detail: qgate.ErrorMessage(err)}
		if p.Status == http.StatusInternalServerError {
			p.Code = qgate.EINTERNAL
			p.ErrorID = newErrorID()
			p.Detail = fmt.Sprintf("%s (error id %s)", p.Detail, p.ErrorID)
			s.logger().Error("api request failed", "error_id", p.ErrorID, "method", r.Method, "path", r.URL.Path, "err", err)
		}
	}
	if p.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="qgate"`)
	}
	if tw, ok := w.(*trackingWriter); ok && tw.wrote {
		s.logger().Warn("api error after the response started", "method", r.Method, "path", r.URL.Path, "err", err)
		return
	}
	writeProblem(w, p)
}

// writeProblem fills in p's type and title and writes it.
func writeProblem(w http.ResponseWriter, p *Problem) {
	if p.Code == "" {
		p.Code = codeOf(p.Status)
	}
	if p.Type == "" {
		p.Type = problemType(p.Code)
	}
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.Status)
	json.NewEncoder(w).Encode(p)
}

func newErrorID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// panicError carries a recovered panic and its stack to the log.
type panicError struct {
	value any
	stack []byte
}

func (e *panicError) Error() string { return fmt.Sprintf("panic: %v\n%s", e.value, e.stack) }

func fmtPanic(v any) error { return &panicError{v, debug.Stack()} }

// writeJSON writes v as the JSON response body.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
	return nil
}

// decodeJSON reads a request body of at most MaxBodySize bytes into v,
// strictly: unknown fields and trailing data are errors. An empty body
// leaves v as it is, so actions whose fields are all optional may be
// posted without one. A non-empty body must be sent as application/json,
// which also keeps plain HTML forms from posting to the API.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodySize))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &Problem{Status: http.StatusRequestEntityTooLarge, Code: qgate.EINVALID,
				Detail: fmt.Sprintf("request body is larger than %d bytes", MaxBodySize)}
		}
		return qgate.Errorf(qgate.EINVALID, "could not read the request body")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		return &Problem{Status: http.StatusUnsupportedMediaType, Code: qgate.EINVALID,
			Detail: "send the request body as Content-Type: application/json"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return qgate.Errorf(qgate.EINVALID, "invalid JSON body: %s", jsonProblem(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return qgate.Errorf(qgate.EINVALID, "invalid JSON body: unexpected data after the object")
	}
	return nil
}

// jsonProblem describes a decoding error without the "json: " prefix.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("%s (at byte %d)", syn.Error(), syn.Offset)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return fmt.Sprintf("field %q must be %s, not %s", typ.Field, typ.Type, typ.Value)
		}
		return fmt.Sprintf("expected %s, not %s", typ.Type, typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected end of input"
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}
