package auth

import (
	"crypto/rand"
	"encoding/binary"
	"hash/crc32"

	"github.com/qgate/qgate"
)

// Token layout: Prefix, ID, '_', secret, checksum. Every part has a fixed
// length, so a token is always TokenLength bytes long.
const (
	// Prefix starts every token so that secret scanners can find leaked
	// ones.
	Prefix = "qgt_"
	// IDLength is the length of a token's public id.
	IDLength = 12
	// SecretLength is the length of the base62 secret (32 random bytes).
	SecretLength = 43
	// ChecksumLength is the length of the base62 CRC32 checksum.
	ChecksumLength = 6
	// TokenLength is the length of a whole token.
	TokenLength = len(Prefix) + IDLength + 1 + SecretLength + ChecksumLength

	// Pattern is a regular expression (RE2 / PCRE compatible) that matches
	// qgate tokens, for secret scanners. A match is a candidate: Parse
	// confirms it offline by checking the checksum. Anchor it (^...$) or add
	// boundaries as the scanner needs; it carries none itself.
	Pattern = `qgt_[a-z2-7]{12}_[0-9A-Za-z]{49}`
)

const (
	idAlphabet     = "abcdefghijklmnopqrstuvwxyz234567" // RFC 4648 base32, lower case
	base62Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

	secretBytes = 32

	idStart       = len(Prefix)
	idEnd         = idStart + IDLength
	secretStart   = idEnd + 1
	secretEnd     = secretStart + SecretLength
	checksumStart = secretEnd
)

// Parse splits a token into its public id and its secret. It checks the
// prefix, the length, the character set of every part and the checksum, and
// needs no store: a typo or a random string is rejected before any lookup.
//
// Errors have code EINVALID and never repeat the input.
func Parse(token string) (id, secret string, err error) {
	if len(token) < len(Prefix) || token[:len(Prefix)] != Prefix {
		return "", "", qgate.Errorf(qgate.EINVALID, "token does not start with %q", Prefix)
	}
	if len(token) != TokenLength {
		return "", "", qgate.Errorf(qgate.EINVALID, "token must be %d characters long, not %d", TokenLength, len(token))
	}
	for i := idStart; i < idEnd; i++ {
		if !isIDChar(token[i]) {
			return "", "", qgate.Errorf(qgate.EINVALID, "token id has an invalid character")
		}
	}
	if token[idEnd] != '_' {
		return "", "", qgate.Errorf(qgate.EINVALID, "token has no separator after its id")
	}
	for i := secretStart; i < secretEnd; i++ {
		if !isBase62(token[i]) {
			return "", "", qgate.Errorf(qgate.EINVALID, "token secret has an invalid character")
		}
	}
	for i := checksumStart; i < TokenLength; i++ {
		if !isBase62(token[i]) {
			return "", "", qgate.Errorf(qgate.EINVALID, "token checksum has an invalid character")
		}
	}
	var sum [ChecksumLength]byte
	checksum(sum[:], token[:checksumStart])
	if string(sum[:]) != token[checksumStart:] {
		return "", "", qgate.Errorf(qgate.EINVALID, "token checksum does not match")
	}
	return token[idStart:idEnd], token[secretStart:secretEnd], nil
}

// format assembles a token from an id and a secret, appending the checksum.
// It does not validate its input.
func format(id, secret string) string {
	b := make([]byte, 0, len(Prefix)+len(id)+1+len(secret)+ChecksumLength)
	b = append(b, Prefix...)
	b = append(b, id...)
	b = append(b, '_')
	b = append(b, secret...)
	var sum [ChecksumLength]byte
	checksum(sum[:], string(b))
	return string(append(b, sum[:]...))
}

// checksum writes the base62 CRC32 (IEEE) of body into dst
// (ChecksumLength bytes), most significant digit first, zero-padded.
func checksum(dst []byte, body string) {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], crc32IEEE(body))
	encodeBase62(dst, b[:])
}

// crc32IEEE is crc32.ChecksumIEEE for a string, byte by byte: for a
// 60-byte body it is as fast as the library's and, unlike it, does not make
// Parse allocate.
func crc32IEEE(s string) uint32 {
	crc := ^uint32(0)
	for i := 0; i < len(s); i++ {
		crc = crc32.IEEETable[byte(crc)^s[i]] ^ crc>>8
	}
	return ^crc
}

// newID returns IDLength random base32 characters. Each character takes
// five bits of one random byte; 256 is a multiple of 32, so every character
// is uniform.
func newID() string {
	var b [IDLength]byte
	rand.Read(b[:])
	for i := range b {
		b[i] = idAlphabet[b[i]&31]
	}
	return string(b[:])
}

// newSecret returns 32 random bytes as SecretLength base62 characters.
func newSecret() string {
	var raw [secretBytes]byte
	rand.Read(raw[:])
	var s [SecretLength]byte
	encodeBase62(s[:], raw[:])
	return string(s[:])
}

// encodeBase62 writes the big-endian number src into dst as len(dst) base62
// digits, most significant first, zero-padded. dst must be long enough to
// hold any value of src (62^len(dst) >= 256^len(src)).
func encodeBase62(dst, src []byte) {
	var buf [secretBytes]byte
	num := buf[:copy(buf[:], src)]
	for i := len(dst) - 1; i >= 0; i-- {
		rem := 0
		for j, d := range num {
			acc := rem<<8 | int(d)
			num[j] = byte(acc / 62)
			rem = acc % 62
		}
		dst[i] = base62Alphabet[rem]
	}
}

func isIDChar(c byte) bool {
	return 'a' <= c && c <= 'z' || '2' <= c && c <= '7'
}

func isBase62(c byte) bool {
	return '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z'
}
