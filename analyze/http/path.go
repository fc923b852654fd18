package httpanalyze

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// PathError explains why a path is ambiguous. Start and End are byte
// offsets into the raw path given to NormalizePath.
type PathError struct {
	Reason     string
	Start, End int
}

func (e *PathError) Error() string { return "ambiguous path: " + e.Reason }

func pathErr(start, end int, format string, args ...any) *PathError {
	return &PathError{Reason: fmt.Sprintf(format, args...), Start: start, End: end}
}

// NormalizePath returns the canonical form of a raw (still percent-encoded)
// request path, or a *PathError saying why the path is ambiguous.
//
// The canonical form, which is what policies see and exactly what is
// forwarded upstream:
//
//   - percent-encoded unreserved characters (ALPHA DIGIT - . _ ~) are
//     decoded; every other percent-encoding is kept, with upper-case hex;
//   - characters that may not appear raw in a path (space, "<>[]^`{|}",
//     bytes >= 0x80) are percent-encoded;
//   - repeated slashes collapse to one (empty segments are dropped, a
//     trailing slash is kept), then dot segments are removed as in RFC
//     3986 section 5.2.4, ".." at the root staying at the root;
//   - "" becomes "/".
//
// Ambiguous, because servers and frameworks disagree about them, and
// therefore refused: a path that does not start with "/" (including the
// asterisk-form "*" of OPTIONS *, which qgate does not forward); an
// encoded "/" (%2F) or "\" (%5C); a raw "\"; NUL, raw or encoded (%00);
// other raw control characters; a raw "#" or "?"; an invalid
// percent-encoding ("%zz", a trailing "%"); a dot segment produced by
// decoding ("%2e%2e", ".%2E") since the request's author meant it to
// survive a proxy; a dot segment with path parameters ("..;x", which
// Tomcat and others treat as ".."); and double encoding ("%25" followed by
// two hex digits, e.g. "%252e"), which a server that decodes twice would
// read differently; and non-ASCII bytes, raw or encoded, that are not
// valid UTF-8 (overlong forms like %C0%AE were read as "." by some
// servers).
func NormalizePath(raw string) (string, error) {
	if raw == "" {
		return "/", nil
	}
	if raw == "*" {
		return "", pathErr(0, 1, `asterisk-form request target ("OPTIONS *") is not forwarded`)
	}
	if raw[0] != '/' {
		return "", pathErr(0, min(1, len(raw)), "path does not start with /")
	}
	segs := make([]string, 0, 8)
	trailing := false
	for start := 1; ; {
		end := strings.IndexByte(raw[start:], '/')
		last := end < 0
		if last {
			end = len(raw)
		} else {
			end += start
		}
		canon, err := canonicalSegment(raw, start, end)
		if err != nil {
			return "", err
		}
		trailing = false
		switch name, _, hasParams := strings.Cut(canon, ";"); {
		case canon == "":
			trailing = last
		case name == "." || name == "..":
			if hasParams {
				return "", pathErr(start, end, "dot segment with parameters %q", canon)
			}
			if raw[start:end] != canon {
				return "", pathErr(start, end, "percent-encoded dot segment %q", raw[start:end])
			}
			if name == ".." && len(segs) > 0 {
				segs = segs[:len(segs)-1]
			}
			trailing = last
		default:
			if i := doubleEncoding(canon); i >= 0 {
				return "", pathErr(start, end, "double percent-encoding %q", canon[i:i+5])
			}
			segs = append(segs, canon)
		}
		if last {
			break
		}
		start = end + 1
	}
	if len(segs) == 0 {
		return "/", nil
	}
	n := len(segs) + 1
	for _, s := range segs {
		n += len(s)
	}
	var b strings.Builder
	b.Grow(n)
	for _, s := range segs {
		b.WriteByte('/')
		b.WriteString(s)
	}
	if trailing {
		b.WriteByte('/')
	}
	return b.String(), nil
}

// canonicalSegment canonicalises raw[start:end], one path segment without
// its slashes.
func canonicalSegment(raw string, start, end int) (string, *PathError) {
	seg := raw[start:end]
	clean := true
	for i := 0; i < len(seg); i++ {
		if !rawAllowed(seg[i]) {
			clean = false
			break
		}
	}
	if clean {
		return seg, nil
	}
	var b strings.Builder
	b.Grow(len(seg) + 8)
	// Non-ASCII bytes, raw or decoded, must form valid UTF-8: overlong
	// forms such as %C0%AE were read as "." by some servers.
	dec := make([]byte, 0, len(seg))
	highStart := -1
	for i := start; i < end; i++ {
		c := raw[i]
		if c >= utf8.RuneSelf && highStart < 0 {
			highStart = i
		}
		switch {
		case c == '%':
			if i+2 >= end || !isHex(raw[i+1]) || !isHex(raw[i+2]) {
				return "", pathErr(i, min(i+3, end), "invalid percent-encoding %q", raw[i:min(i+3, end)])
			}
			d := unhex(raw[i+1])<<4 | unhex(raw[i+2])
			dec = append(dec, d)
			if d >= utf8.RuneSelf && highStart < 0 {
				highStart = i
			}
			switch {
			case isUnreserved(d):
				b.WriteByte(d)
			case d == '/':
				return "", pathErr(i, i+3, "encoded slash %q", raw[i:i+3])
			case d == '\\':
				return "", pathErr(i, i+3, "encoded backslash %q", raw[i:i+3])
			case d == 0:
				return "", pathErr(i, i+3, "encoded NUL %q", raw[i:i+3])
			default:
				writeEscaped(&b, d)
			}
			i += 2
		case rawAllowed(c):
			b.WriteByte(c)
			dec = append(dec, c)
		case c == '\\':
			return "", pathErr(i, i+1, "backslash in path")
		case c == 0:
			return "", pathErr(i, i+1, "NUL byte in path")
		case c < 0x20 || c == 0x7f:
			return "", pathErr(i, i+1, "control character %q in path", c)
		case c == '#' || c == '?':
			return "", pathErr(i, i+1, "%q in path", c)
		default:
			// Not allowed raw (space, "<>[]^`{|}, non-ASCII): encode it.
			writeEscaped(&b, c)
			dec = append(dec, c)
		}
	}
	if highStart >= 0 && !utf8.Valid(dec) {
		return "", pathErr(highStart, end, "non-ASCII bytes that are not valid UTF-8")
	}
	return b.String(), nil
}

// doubleEncoding returns the index of "%25" followed by two hex digits in
// a canonical segment, or -1.
func doubleEncoding(s string) int {
	for i := 0; i+4 < len(s); i++ {
		if s[i] == '%' && s[i+1] == '2' && s[i+2] == '5' && isHex(s[i+3]) && isHex(s[i+4]) {
			return i
		}
	}
	return -1
}

const upperHex = "0123456789ABCDEF"

func writeEscaped(b *strings.Builder, c byte) {
	b.WriteByte('%')
	b.WriteByte(upperHex[c>>4])
	b.WriteByte(upperHex[c&15])
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// isUnreserved reports RFC 3986 unreserved characters.
func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// rawAllowed reports characters that may appear raw in a canonical path
// segment: unreserved, sub-delims, ":" and "@" (RFC 3986 pchar without
// percent-encodings).
func rawAllowed(c byte) bool {
	if isUnreserved(c) {
		return true
	}
	switch c {
	case '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=', ':', '@':
		return true
	}
	return false
}
