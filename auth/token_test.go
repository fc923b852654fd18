package auth

import (
	"hash/crc32"
	"math/big"
	"regexp"
	"strings"
	"testing"

	"github.com/qgate/qgate"
)

const exampleToken = "qgt_example23456_ThisIsAnExampleSecretNotARealOne0123456789A3ArU8V"

var anchoredPattern = regexp.MustCompile("^" + Pattern + "$")

func TestParse(t *testing.T) {
	good := format("abcdefgh2345", "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefg")
	tests := []struct {
		name       string
		token      string
		wantID     string
		wantSecret string
		wantErr    string // substring of the message; "" for success
	}{
		{name: "Example", token: exampleToken, wantID: "example23456", wantSecret: "ThisIsAnExampleSecretNotARealOne0123456789A"},
		{name: "Good", token: good, wantID: "abcdefgh2345", wantSecret: "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefg"},
		{name: "Empty", token: "", wantErr: "does not start"},
		{name: "PrefixOnly", token: "qgt_", wantErr: "66 characters"},
		{name: "WrongPrefix", token: "qgx_" + good[4:], wantErr: "does not start"},
		{name: "UpperPrefix", token: "QGT_" + good[4:], wantErr: "does not start"},
		{name: "OtherVendor", token: "ghp_" + strings.Repeat("a", 36), wantErr: "does not start"},
		{name: "TooShort", token: good[:len(good)-1], wantErr: "66 characters"},
		{name: "TooLong", token: good + "0", wantErr: "66 characters"},
		{name: "TrailingNewline", token: good + "\n", wantErr: "66 characters"},
		{name: "LeadingSpace", token: " " + good[:len(good)-1], wantErr: "does not start"},
		{name: "UpperCaseID", token: "qgt_ABCDEFGH2345" + good[16:], wantErr: "id has an invalid character"},
		{name: "DigitOutsideBase32", token: "qgt_abcdefgh2341" + good[16:], wantErr: "id has an invalid character"},
		{name: "NoSeparator", token: good[:16] + "x" + good[17:], wantErr: "separator"},
		{name: "SecretNotBase62", token: good[:20] + "-" + good[21:], wantErr: "secret has an invalid character"},
		{name: "SecretUnderscore", token: good[:20] + "_" + good[21:], wantErr: "secret has an invalid character"},
		{name: "ChecksumNotBase62", token: good[:65] + "/", wantErr: "checksum has an invalid character"},
		{name: "BadChecksum", token: good[:65] + flip(good[65]), wantErr: "checksum"},
		{name: "TypoInSecret", token: good[:30] + flip(good[30]) + good[31:], wantErr: "checksum"},
		{name: "TypoInID", token: good[:5] + "z" + good[6:], wantErr: "checksum"},
		{name: "NonASCII", token: "qgt_" + strings.Repeat("é", 31), wantErr: "invalid character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, secret, err := Parse(tt.token)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Parse: got error %v, want none", err)
				}
				if id != tt.wantID || secret != tt.wantSecret {
					t.Fatalf("Parse: got (%q, %q), want (%q, %q)", id, secret, tt.wantID, tt.wantSecret)
				}
				return
			}
			if err == nil {
				t.Fatalf("Parse: got (%q, %q, nil), want an error containing %q", id, secret, tt.wantErr)
			}
			if got := qgate.ErrorCode(err); got != qgate.EINVALID {
				t.Errorf("ErrorCode: got %q, want %q", got, qgate.EINVALID)
			}
			if msg := qgate.ErrorMessage(err); !strings.Contains(msg, tt.wantErr) {
				t.Errorf("message: got %q, want it to contain %q", msg, tt.wantErr)
			}
			if len(tt.token) > 20 && strings.Contains(err.Error(), tt.token[17:]) {
				t.Errorf("error %q repeats the secret", err)
			}
			if id != "" || secret != "" {
				t.Errorf("Parse: got (%q, %q) with an error, want empty strings", id, secret)
			}
		})
	}
}

// flip returns a different base62 character.
func flip(c byte) string {
	if c == 'a' {
		return "b"
	}
	return "a"
}

func TestFormat(t *testing.T) {
	t.Run("Layout", func(t *testing.T) {
		for range 100 {
			tok := format(newID(), newSecret())
			if got := len(tok); got != TokenLength {
				t.Fatalf("len: got %d, want %d", got, TokenLength)
			}
			if !anchoredPattern.MatchString(tok) {
				t.Fatalf("Pattern does not match %q", tok)
			}
			if _, _, err := Parse(tok); err != nil {
				t.Fatalf("Parse(%q): %v", tok, err)
			}
		}
	})
	t.Run("ChecksumIsCRC32OfBodyInBase62", func(t *testing.T) {
		body := exampleToken[:60]
		n := new(big.Int).SetUint64(uint64(crc32.ChecksumIEEE([]byte(body))))
		want := toBase62(n, ChecksumLength)
		if got := exampleToken[60:]; got != want {
			t.Fatalf("checksum: got %q, want %q", got, want)
		}
	})
	t.Run("CRC32MatchesLibrary", func(t *testing.T) {
		for _, s := range []string{"", "a", exampleToken[:60], strings.Repeat("\xff", 100)} {
			if got, want := crc32IEEE(s), crc32.ChecksumIEEE([]byte(s)); got != want {
				t.Errorf("crc32IEEE(%q): got %#x, want %#x", s, got, want)
			}
		}
	})
	t.Run("SecretIs32BytesInBase62", func(t *testing.T) {
		raw := make([]byte, 32)
		for i := range raw {
			raw[i] = byte(i*37 + 11)
		}
		var got [SecretLength]byte
		encodeBase62(got[:], raw)
		want := toBase62(new(big.Int).SetBytes(raw), SecretLength)
		if string(got[:]) != want {
			t.Fatalf("encodeBase62: got %q, want %q", got, want)
		}
		max := make([]byte, 32)
		for i := range max {
			max[i] = 0xff
		}
		encodeBase62(got[:], max)
		if want := toBase62(new(big.Int).SetBytes(max), SecretLength); string(got[:]) != want {
			t.Fatalf("encodeBase62(max): got %q, want %q", got, want)
		}
	})
	t.Run("IDAlphabetUniform", func(t *testing.T) {
		seen := map[rune]int{}
		for range 2000 {
			for _, c := range newID() {
				seen[c]++
			}
		}
		if got := len(seen); got != 32 {
			t.Fatalf("distinct id characters: got %d, want 32", got)
		}
	})
	t.Run("Unique", func(t *testing.T) {
		ids, secrets := map[string]bool{}, map[string]bool{}
		for range 1000 {
			id, s := newID(), newSecret()
			if ids[id] || secrets[s] {
				t.Fatal("repeated id or secret")
			}
			ids[id], secrets[s] = true, true
		}
	})
}

// toBase62 is an independent base62 encoder (math/big) for cross-checks.
func toBase62(n *big.Int, width int) string {
	n = new(big.Int).Set(n)
	b := make([]byte, width)
	r, base := new(big.Int), big.NewInt(62)
	for i := width - 1; i >= 0; i-- {
		n.QuoRem(n, base, r)
		b[i] = base62Alphabet[r.Int64()]
	}
	if n.Sign() != 0 {
		panic("toBase62: width too small")
	}
	return string(b)
}

func TestPattern(t *testing.T) {
	text := "export QGATE_TOKEN=" + exampleToken + "\n" + `{"token":"` + format(newID(), newSecret()) + `"}`
	matches := regexp.MustCompile(Pattern).FindAllString(text, -1)
	if got := len(matches); got != 2 {
		t.Fatalf("matches: got %d, want 2", got)
	}
	for _, m := range matches {
		if _, _, err := Parse(m); err != nil {
			t.Errorf("Parse(%q): %v", m, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(exampleToken)
	f.Add(format(newID(), newSecret()))
	f.Add(exampleToken[:65] + "X")
	f.Add("")
	f.Add("qgt_")
	f.Add("qgt_" + strings.Repeat("a", 62))
	f.Add("qgt_aaaaaaaaaaaa_" + strings.Repeat("z", 49))
	f.Add(strings.Repeat("\xff", 66))
	f.Fuzz(func(t *testing.T, s string) {
		id, secret, err := Parse(s)
		if err != nil {
			if qgate.ErrorCode(err) != qgate.EINVALID {
				t.Fatalf("Parse error code: got %q, want %q", qgate.ErrorCode(err), qgate.EINVALID)
			}
			if id != "" || secret != "" {
				t.Fatalf("Parse returned (%q, %q) with an error", id, secret)
			}
			return
		}
		if got := format(id, secret); got != s {
			t.Fatalf("round trip: format(Parse(%q)) = %q", s, got)
		}
		if len(id) != IDLength || len(secret) != SecretLength {
			t.Fatalf("lengths: id %d, secret %d", len(id), len(secret))
		}
		if !anchoredPattern.MatchString(s) {
			t.Fatalf("Parse accepted %q but Pattern does not match it", s)
		}
	})
}
