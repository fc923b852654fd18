package pgproxy

import (
	"encoding/binary"
	"strconv"

	"github.com/jackc/pgx/v5/pgproto3"
)

// SQLSTATE codes qgate answers with.
const (
	codeInsufficientPrivilege = "42501" // refused by policy or review
	codeInvalidPassword       = "28P01" // every refused login
	codeInvalidAuthorization  = "28000"
	codeQueryCanceled         = "57014" // a held statement cancelled by the client
	codeProtocolViolation     = "08P01"
	codeConnectionFailure     = "08006" // the upstream could not be reached
	codeProgramLimitExceeded  = "54000" // message too large
	codeAdminShutdown         = "57P01" // the gateway is closing
	codeIdleTimeout           = "57P05"
	codeFeatureNotSupported   = "0A000"
	codeInternalError         = "XX000"
)

// errorMsg builds an ErrorResponse.
func errorMsg(severity, code, message, detail string) *pgproto3.ErrorResponse {
	return &pgproto3.ErrorResponse{Severity: severity, SeverityUnlocalized: severity, Code: code, Message: message, Detail: detail}
}

// encode appends the wire form of msgs to dst.
func encode(dst []byte, msgs ...pgproto3.BackendMessage) []byte {
	for _, m := range msgs {
		var err error
		if dst, err = m.Encode(dst); err != nil {
			// Only oversized messages fail to encode; qgate's own are small.
			panic("pgproxy: encode " + err.Error())
		}
	}
	return dst
}

// commandRows returns the row count of a CommandComplete tag ("INSERT 0 5"
// → 5, "SELECT 3" → 3), or -1 when the tag carries none.
func commandRows(tag []byte) int64 {
	i := len(tag)
	for i > 0 && tag[i-1] >= '0' && tag[i-1] <= '9' {
		i--
	}
	if i == len(tag) || i == 0 || tag[i-1] != ' ' {
		return -1
	}
	n, err := strconv.ParseInt(string(tag[i:]), 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// cstring returns the NUL-terminated string at the start of b.
func cstring(b []byte) []byte {
	for i, c := range b {
		if c == 0 {
			return b[:i]
		}
	}
	return b
}

// errorField returns field t of an ErrorResponse or NoticeResponse body
// ("" when absent or malformed).
func errorField(body []byte, t byte) string {
	for len(body) > 0 && body[0] != 0 {
		v := cstring(body[1:])
		if 1+len(v) >= len(body) {
			return "" // unterminated
		}
		if body[0] == t {
			return string(v)
		}
		body = body[1+len(v)+1:]
	}
	return ""
}

// errorFatal reports whether an ErrorResponse body has severity FATAL or
// PANIC.
func errorFatal(body []byte) bool {
	s := errorField(body, 'V')
	if s == "" {
		s = errorField(body, 'S')
	}
	return s == "FATAL" || s == "PANIC"
}

// appendHeader appends a message header (type and length of a body of n
// bytes).
func appendHeader(dst []byte, typ byte, n int) []byte {
	dst = append(dst, typ)
	return binary.BigEndian.AppendUint32(dst, uint32(n+4))
}

// errorCode returns the SQLSTATE of an ErrorResponse body.
func errorCode(body []byte) string { return errorField(body, 'C') }
