package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/qgate/qgate"
	"github.com/xdg-go/scram"
)

// DefaultSCRAMIterations is the PBKDF2 iteration count of new SCRAM
// verifiers, PostgreSQL's default.
const DefaultSCRAMIterations = 4096

// scramSaltSize is the salt length of new verifiers, PostgreSQL's default.
const scramSaltSize = 16

const scramPrefix = "SCRAM-SHA-256$"

// SCRAMCredentials is a parsed SCRAM-SHA-256 verifier: what a SCRAM server
// needs to authenticate a client without knowing its password. For
// github.com/xdg-go/scram they map to scram.StoredCredentials{KeyFactors:
// {Salt: string(Salt), Iters: Iterations}, StoredKey, ServerKey}.
type SCRAMCredentials struct {
	Salt       []byte
	Iterations int
	StoredKey  []byte
	ServerKey  []byte
}

// ParseSCRAMVerifier parses a verifier in PostgreSQL's stored format,
// SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>, with the salt
// and keys in standard base64. Errors have code EINVALID.
func ParseSCRAMVerifier(v string) (SCRAMCredentials, error) {
	bad := func(what string) (SCRAMCredentials, error) {
		return SCRAMCredentials{}, qgate.Errorf(qgate.EINVALID, "invalid SCRAM-SHA-256 verifier: %s", what)
	}
	rest, ok := strings.CutPrefix(v, scramPrefix)
	if !ok {
		return bad("missing " + scramPrefix + " prefix")
	}
	params, keys, ok := strings.Cut(rest, "$")
	if !ok {
		return bad("missing keys")
	}
	iterText, saltText, ok := strings.Cut(params, ":")
	if !ok {
		return bad("missing salt")
	}
	storedText, serverText, ok := strings.Cut(keys, ":")
	if !ok {
		return bad("missing server key")
	}
	iters, err := strconv.Atoi(iterText)
	if err != nil || iters <= 0 || iterText[0] == '+' {
		return bad("bad iteration count")
	}
	salt, err := base64.StdEncoding.Strict().DecodeString(saltText)
	if err != nil || len(salt) == 0 {
		return bad("bad salt")
	}
	storedKey, err := base64.StdEncoding.Strict().DecodeString(storedText)
	if err != nil || len(storedKey) != sha256.Size {
		return bad("bad stored key")
	}
	serverKey, err := base64.StdEncoding.Strict().DecodeString(serverText)
	if err != nil || len(serverKey) != sha256.Size {
		return bad("bad server key")
	}
	return SCRAMCredentials{Salt: salt, Iterations: iters, StoredKey: storedKey, ServerKey: serverKey}, nil
}

// formatSCRAM formats c in PostgreSQL's stored verifier format.
func formatSCRAM(c SCRAMCredentials) string {
	enc := base64.StdEncoding.EncodeToString
	return scramPrefix + strconv.Itoa(c.Iterations) + ":" + enc(c.Salt) + "$" + enc(c.StoredKey) + ":" + enc(c.ServerKey)
}

// scramVerifier computes the SCRAM-SHA-256 verifier of password with the
// given salt (nil: a new random one) and iteration count, in PostgreSQL's
// stored format. The password is SASLprepped as PostgreSQL and libpq do.
func scramVerifier(password string, salt []byte, iters int) (string, error) {
	if salt == nil {
		salt = make([]byte, scramSaltSize)
		rand.Read(salt)
	}
	client, err := scram.SHA256.NewClient("", password, "")
	if err != nil {
		return "", qgate.Errorf(qgate.EINTERNAL, "compute SCRAM verifier: %v", err)
	}
	creds, err := client.GetStoredCredentialsWithError(scram.KeyFactors{Salt: string(salt), Iters: iters})
	if err != nil {
		return "", qgate.Errorf(qgate.EINTERNAL, "compute SCRAM verifier: %v", err)
	}
	return formatSCRAM(SCRAMCredentials{Salt: salt, Iterations: iters, StoredKey: creds.StoredKey, ServerKey: creds.ServerKey}), nil
}
