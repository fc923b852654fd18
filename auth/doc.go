// Package auth issues, verifies, rotates and revokes qgate API tokens.
//
// # Token format
//
// A token is 66 ASCII characters:
//
//	qgt_<id>_<secret><checksum>
//
//	qgt_example23456_ThisIsAnExampleSecretNotARealOne0123456789A3ArU8V
//	    └────┬─────┘ └──────────────────┬──────────────────────┘└─┬──┘
//	        id                        secret                 checksum
//
// Its parts:
//
//   - "qgt_" is a fixed prefix, so that secret scanners recognise leaked
//     tokens.
//   - id is 12 characters of lower-case RFC 4648 base32 (a-z, 2-7) drawn
//     from crypto/rand (60 bits). It is public: it names the token in lists
//     and audit records, and it is the PostgreSQL user name.
//   - secret is 32 bytes from crypto/rand, written as a big-endian number
//     in 43 base62 digits, zero-padded.
//   - checksum is the CRC32 (IEEE) of everything before it ("qgt_", id, "_"
//     and secret) as 6 base62 digits, zero-padded, as in GitHub's tokens. It
//     lets a scanner validate a candidate offline and lets Parse reject
//     typos before any store lookup. It is not a security measure.
//
// The base62 alphabet is 0-9, A-Z, a-z, in that order (digit value 0 to
// 61). Pattern is the regular expression for scanners,
// qgt_[a-z2-7]{12}_[0-9A-Za-z]{49}; a match whose checksum is right (Parse
// succeeds) is almost certainly a qgate token.
//
// The whole token is the credential: it is the HTTP bearer token and the
// PostgreSQL password. It is shown once, when issued or rotated.
//
// # Stored hashes
//
// The secret is never stored. The store holds, per token:
//
//   - SecretHash = HMAC-SHA256(key, secret), where key is the server key
//     (at least 32 bytes, see LoadOrCreateKey and KeyFromEnv) and secret
//     is the 43-character secret part as ASCII bytes. Verify recomputes it
//     and compares it with hmac.Equal. Because the hash is keyed, a copy of
//     the store alone does not allow testing guesses; and because secrets
//     have 256 bits of entropy, no slow password hash is needed.
//   - SCRAM = the SCRAM-SHA-256 verifier (RFC 5802, RFC 7677) of the whole
//     token string as the password, in PostgreSQL's stored format
//     SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey> (standard
//     base64, 16-byte random salt, 4096 iterations by default), so that
//     the PostgreSQL listener can run a SCRAM exchange with psql or any
//     driver without ever seeing the token. ParseSCRAMVerifier decodes it.
//
// Losing the server key invalidates every token's SecretHash (SCRAM
// verifiers do not depend on it).
//
// # Verification
//
// Verify parses the token, looks its id up, compares hashes in constant
// time (also for unknown ids, against a dummy hash), then checks revocation
// and expiry. Every refusal reads the same to the client,
// qgate.Errorf(qgate.EUNAUTHORIZED, "invalid token"); the reason
// (malformed, unknown, bad_secret, expired, revoked) is kept for the audit
// log in an *AuthError, reached with errors.As.
//
// # Rotation
//
// Rotate replaces a token's secret and keeps its id. The previous hash and
// verifier stay valid for a grace period so that clients can be updated
// without downtime; a grace of 0 ends them at once. During a grace period
// the new SCRAM verifier keeps the previous one's salt and iteration count,
// so a PostgreSQL listener can send that one salt and accept a client proof
// that matches either StoredKey. Revoke ends a token, grace included, at
// once; Verify reads the store on every call, so nothing is cached.
package auth
