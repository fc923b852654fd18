package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/qgate/qgate"
	"github.com/xdg-go/scram"
)

// scramLogin runs a full SCRAM-SHA-256 conversation between a real
// xdg-go/scram client using password and a server whose credential lookup
// returns creds for user. It returns nil when both sides accept.
func scramLogin(t *testing.T, creds SCRAMCredentials, user, password string) error {
	t.Helper()
	server, err := scram.SHA256.NewServer(func(u string) (scram.StoredCredentials, error) {
		if u != user {
			return scram.StoredCredentials{}, errors.New("unknown user")
		}
		return scram.StoredCredentials{
			KeyFactors: scram.KeyFactors{Salt: string(creds.Salt), Iters: creds.Iterations},
			StoredKey:  creds.StoredKey,
			ServerKey:  creds.ServerKey,
		}, nil
	})
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	client, err := scram.SHA256.NewClient(user, password, "")
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	cc, sc := client.NewConversation(), server.NewConversation()
	clientFirst, err := cc.Step("")
	if err != nil {
		return err
	}
	serverFirst, err := sc.Step(clientFirst)
	if err != nil {
		return err
	}
	clientFinal, err := cc.Step(serverFirst)
	if err != nil {
		return err
	}
	serverFinal, err := sc.Step(clientFinal)
	if err != nil {
		return err
	}
	if _, err := cc.Step(serverFinal); err != nil {
		return err
	}
	if !sc.Valid() || !cc.Valid() {
		return errors.New("conversation not valid")
	}
	return nil
}

func TestSCRAM(t *testing.T) {
	ctx := t.Context()
	a := New(newMemStore(), testKey)
	token, tok, err := a.Issue(ctx, IssueRequest{Identity: "alice"})
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	creds, err := ParseSCRAMVerifier(tok.SCRAM)
	if err != nil {
		t.Fatalf("ParseSCRAMVerifier: %v", err)
	}
	t.Run("Format", func(t *testing.T) {
		if !strings.HasPrefix(tok.SCRAM, "SCRAM-SHA-256$4096:") {
			t.Errorf("verifier %q does not start with SCRAM-SHA-256$4096:", tok.SCRAM)
		}
		if got, want := creds.Iterations, 4096; got != want {
			t.Errorf("iterations: got %d, want %d", got, want)
		}
		if got, want := len(creds.Salt), 16; got != want {
			t.Errorf("salt length: got %d, want %d", got, want)
		}
		if got := formatSCRAM(creds); got != tok.SCRAM {
			t.Errorf("formatSCRAM(ParseSCRAMVerifier(v)): got %q, want %q", got, tok.SCRAM)
		}
	})
	t.Run("MatchesRFC5802", func(t *testing.T) {
		// Independent computation with the standard library only.
		salted, err := pbkdf2.Key(sha256.New, token, creds.Salt, creds.Iterations, sha256.Size)
		if err != nil {
			t.Fatal(err)
		}
		mac := func(key []byte, s string) []byte {
			h := hmac.New(sha256.New, key)
			h.Write([]byte(s))
			return h.Sum(nil)
		}
		clientKey := mac(salted, "Client Key")
		storedKey := sha256.Sum256(clientKey)
		if !bytes.Equal(creds.StoredKey, storedKey[:]) {
			t.Errorf("StoredKey: got %x, want %x", creds.StoredKey, storedKey)
		}
		if want := mac(salted, "Server Key"); !bytes.Equal(creds.ServerKey, want) {
			t.Errorf("ServerKey: got %x, want %x", creds.ServerKey, want)
		}
	})
	t.Run("ConversationWithToken", func(t *testing.T) {
		if err := scramLogin(t, creds, tok.ID, token); err != nil {
			t.Fatalf("SCRAM login with the token: %v", err)
		}
	})
	t.Run("ConversationWithWrongPassword", func(t *testing.T) {
		id, _, _ := Parse(token)
		other := format(id, newSecret())
		for _, pw := range []string{other, token[:len(token)-1], "", tok.ID} {
			if err := scramLogin(t, creds, tok.ID, pw); err == nil {
				t.Errorf("SCRAM login with a wrong password %q succeeded", pw)
			}
		}
	})
	t.Run("ConversationAfterRotation", func(t *testing.T) {
		newToken, err := a.Rotate(ctx, tok.ID, 0)
		if err != nil {
			t.Fatalf("Rotate: %v", err)
		}
		stored, _ := a.Store.Token(ctx, tok.ID)
		newCreds, err := ParseSCRAMVerifier(stored.SCRAM)
		if err != nil {
			t.Fatalf("ParseSCRAMVerifier: %v", err)
		}
		if err := scramLogin(t, newCreds, tok.ID, newToken); err != nil {
			t.Errorf("SCRAM login with the new token: %v", err)
		}
		if err := scramLogin(t, newCreds, tok.ID, token); err == nil {
			t.Errorf("SCRAM login with the old token succeeded against the new verifier")
		}
	})
}

func TestParseSCRAMVerifier(t *testing.T) {
	salt := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	short := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 31))
	good := "SCRAM-SHA-256$4096:" + salt + "$" + key + ":" + key
	got, err := ParseSCRAMVerifier(good)
	if err != nil {
		t.Fatalf("ParseSCRAMVerifier(%q): %v", good, err)
	}
	want := SCRAMCredentials{Salt: []byte("0123456789abcdef"), Iterations: 4096, StoredKey: bytes.Repeat([]byte{1}, 32), ServerKey: bytes.Repeat([]byte{1}, 32)}
	if !bytes.Equal(got.Salt, want.Salt) || got.Iterations != want.Iterations || !bytes.Equal(got.StoredKey, want.StoredKey) || !bytes.Equal(got.ServerKey, want.ServerKey) {
		t.Fatalf("ParseSCRAMVerifier: got %+v, want %+v", got, want)
	}
	bad := map[string]string{
		"Empty":        "",
		"MD5":          "md5" + strings.Repeat("0", 32),
		"SHA1":         "SCRAM-SHA-1$4096:" + salt + "$" + key + ":" + key,
		"NoKeys":       "SCRAM-SHA-256$4096:" + salt,
		"NoSalt":       "SCRAM-SHA-256$4096$" + key + ":" + key,
		"NoServerKey":  "SCRAM-SHA-256$4096:" + salt + "$" + key,
		"ZeroIters":    "SCRAM-SHA-256$0:" + salt + "$" + key + ":" + key,
		"NegIters":     "SCRAM-SHA-256$-1:" + salt + "$" + key + ":" + key,
		"PlusIters":    "SCRAM-SHA-256$+4096:" + salt + "$" + key + ":" + key,
		"TextIters":    "SCRAM-SHA-256$many:" + salt + "$" + key + ":" + key,
		"EmptySalt":    "SCRAM-SHA-256$4096:$" + key + ":" + key,
		"BadSalt":      "SCRAM-SHA-256$4096:!!!!$" + key + ":" + key,
		"ShortStored":  "SCRAM-SHA-256$4096:" + salt + "$" + short + ":" + key,
		"ShortServer":  "SCRAM-SHA-256$4096:" + salt + "$" + key + ":" + short,
		"ExtraDollar":  good + "$x",
		"ExtraColon":   good + ":x",
		"Base64URLKey": "SCRAM-SHA-256$4096:" + salt + "$" + strings.ReplaceAll(key, "B", "-") + ":" + key,
	}
	for name, v := range bad {
		t.Run(name, func(t *testing.T) {
			_, err := ParseSCRAMVerifier(v)
			if err == nil {
				t.Fatalf("ParseSCRAMVerifier(%q): got no error", v)
			}
			if got := qgate.ErrorCode(err); got != qgate.EINVALID {
				t.Errorf("ErrorCode: got %q, want %q", got, qgate.EINVALID)
			}
		})
	}
}
