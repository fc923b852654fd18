package jsonenc

// maxDepth is encoding/json's nesting limit: deeper text is not valid.
const maxDepth = 10000

// Valid reports whether b is one JSON value, optionally surrounded by
// whitespace: exactly what encoding/json.Valid accepts (FuzzValid holds the
// two to that), several times faster. The audit log validates the data of
// every event it is given, twice per call on a gateway's hot path.
//
// Like encoding/json, it does not check that strings are valid UTF-8.
func Valid(b []byte) bool {
	ok, _ := ValidSpaced(b)
	return ok
}

// ValidSpaced is Valid, and also reports whether b has whitespace outside
// its strings (which json.Compact would remove), in the same pass.
func ValidSpaced(b []byte) (valid, spaced bool) {
	var stack [64]byte // open containers: '{' or '['; deeper ones spill
	open := stack[:0]
	i := skipSpace(b, 0, &spaced)
	for {
		// A value starts at b[i].
		if i >= len(b) {
			return false, spaced
		}
		switch c := b[i]; {
		case c == '{' || c == '[':
			if len(open) == maxDepth {
				return false, spaced
			}
			open = append(open, c)
			i = skipSpace(b, i+1, &spaced)
			if i < len(b) && b[i] == c+2 { // '}' or ']': empty
				open = open[:len(open)-1]
				i++
				break
			}
			if c == '{' {
				if i = objectKey(b, i, &spaced); i < 0 {
					return false, spaced
				}
			}
			continue
		case c == '"':
			if i = str(b, i); i < 0 {
				return false, spaced
			}
		case c == '-' || c >= '0' && c <= '9':
			if i = number(b, i); i < 0 {
				return false, spaced
			}
		case c == 't':
			if i = literal(b, i, "true"); i < 0 {
				return false, spaced
			}
		case c == 'f':
			if i = literal(b, i, "false"); i < 0 {
				return false, spaced
			}
		case c == 'n':
			if i = literal(b, i, "null"); i < 0 {
				return false, spaced
			}
		default:
			return false, spaced
		}
		// A value ended before b[i]: close containers, or go on to the
		// next element.
		for {
			i = skipSpace(b, i, &spaced)
			if len(open) == 0 {
				return i == len(b), spaced
			}
			if i >= len(b) {
				return false, spaced
			}
			top := open[len(open)-1]
			if b[i] == top+2 {
				open = open[:len(open)-1]
				i++
				continue
			}
			if b[i] != ',' {
				return false, spaced
			}
			i = skipSpace(b, i+1, &spaced)
			if top == '{' {
				if i = objectKey(b, i, &spaced); i < 0 {
					return false, spaced
				}
			}
			break
		}
	}
}

// objectKey reads a member's name and its colon at b[i], returning where
// the member's value starts (after whitespace), or -1.
func objectKey(b []byte, i int, spaced *bool) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	if i = str(b, i); i < 0 {
		return -1
	}
	i = skipSpace(b, i, spaced)
	if i >= len(b) || b[i] != ':' {
		return -1
	}
	return skipSpace(b, i+1, spaced)
}

// skipSpace returns where the whitespace at b[i] ends, and sets *spaced
// if there was any.
func skipSpace(b []byte, i int, spaced *bool) int {
	start := i
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			if i != start {
				*spaced = true
			}
			return i
		}
	}
	if i != start {
		*spaced = true
	}
	return i
}

// str reads the string starting with the quote at b[i], returning the
// index after its closing quote, or -1.
func str(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1
		case c < 0x20:
			return -1
		case c == '\\':
			i++
			if i >= len(b) {
				return -1
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(b) {
					return -1
				}
				for _, h := range b[i+1 : i+5] {
					if !isHex(h) {
						return -1
					}
				}
				i += 4
			default:
				return -1
			}
		}
	}
	return -1
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// number reads the number starting at b[i], returning the index after it,
// or -1: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func number(b []byte, i int) int {
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(b, i+1)
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return -1
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return -1
		}
		i = j
	}
	return i
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// literal reads word (true, false or null) at b[i].
func literal(b []byte, i int, word string) int {
	if len(b)-i < len(word) || string(b[i:i+len(word)]) != word {
		return -1
	}
	return i + len(word)
}
