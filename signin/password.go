package signin

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/qgate/qgate"
)

// Password rules.
const (
	MinPasswordLength = 12   // characters
	MaxPasswordLength = 1024 // bytes; longer input is refused before hashing
)

// Params are argon2id's cost parameters. They are written into every hash
// (PHC format), so raising them later leaves old hashes verifiable; a
// successful sign-in rehashes a password made with other parameters.
type Params struct {
	Memory      uint32 // KiB
	Iterations  uint32
	Parallelism uint8
	SaltLength  uint32
	KeyLength   uint32
}

// DefaultParams follow RFC 9106's second recommendation with the
// parallelism of a small server: 64 MiB, 3 passes, 2 lanes.
var DefaultParams = Params{Memory: 64 * 1024, Iterations: 3, Parallelism: 2, SaltLength: 16, KeyLength: 32}

// CheckPassword enforces the password rules: at least MinPasswordLength
// characters, at most MaxPasswordLength bytes, valid UTF-8.
func CheckPassword(password string) error {
	switch {
	case password == "":
		return qgate.Errorf(qgate.EINVALID, "the password is empty")
	case !utf8.ValidString(password):
		return qgate.Errorf(qgate.EINVALID, "the password is not valid UTF-8")
	case utf8.RuneCountInString(password) < MinPasswordLength:
		return qgate.Errorf(qgate.EINVALID, "the password is too short: use at least %d characters", MinPasswordLength)
	case len(password) > MaxPasswordLength:
		return qgate.Errorf(qgate.EINVALID, "the password is too long: at most %d bytes", MaxPasswordLength)
	}
	return nil
}

// HashPassword returns the PHC-format argon2id hash of password with a new
// random salt:
//
//	$argon2id$v=19$m=65536,t=3,p=2$<salt>$<key>
func HashPassword(password string, p Params) (string, error) {
	salt := make([]byte, p.SaltLength)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLength)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Iterations, p.Parallelism,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// VerifyPassword reports whether password matches the PHC-format hash,
// comparing in constant time. It returns the parameters the hash was made
// with, so that the caller can tell whether to rehash. A malformed hash is
// an error.
func VerifyPassword(password, hash string) (ok bool, p Params, err error) {
	p, salt, key, err := parseHash(hash)
	if err != nil {
		return false, p, err
	}
	got := argon2.IDKey([]byte(password), salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLength)
	return subtle.ConstantTimeCompare(got, key) == 1, p, nil
}

// parseHash reads a PHC-format argon2id hash.
func parseHash(hash string) (p Params, salt, key []byte, err error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, fmt.Errorf("password hash: not an argon2id PHC string")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return p, nil, nil, fmt.Errorf("password hash: unsupported argon2 version %q", parts[2])
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Iterations, &p.Parallelism); err != nil ||
		p.Memory == 0 || p.Iterations == 0 || p.Parallelism == 0 {
		return p, nil, nil, fmt.Errorf("password hash: bad parameters %q", parts[3])
	}
	b64 := base64.RawStdEncoding
	if salt, err = b64.DecodeString(parts[4]); err != nil {
		return p, nil, nil, fmt.Errorf("password hash: bad salt: %w", err)
	}
	if key, err = b64.DecodeString(parts[5]); err != nil || len(key) == 0 {
		return p, nil, nil, fmt.Errorf("password hash: bad key")
	}
	p.SaltLength, p.KeyLength = uint32(len(salt)), uint32(len(key))
	return p, salt, key, nil
}
