package webhook_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/qgate/qgate/notify/webhook"
)

var secret = []byte("whsec-0123456789abcdef")

func TestSign_IndependentHMAC(t *testing.T) {
	at := time.Unix(1700000000, 0)
	body := []byte(`{"id":"x","type":"review.created"}`)
	got := webhook.Sign(secret, at, body)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("1700000000." + string(body)))
	if want := "t=1700000000,v1=" + hex.EncodeToString(m.Sum(nil)); got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestVerify(t *testing.T) {
	now := time.Unix(1700000000, 0)
	body := []byte(`{"id":"d1","type":"review.decided"}`)
	valid := webhook.Sign(secret, now.Add(-30*time.Second), body)
	sig := valid[strings.Index(valid, "v1=")+3:]
	other := webhook.Sign([]byte("another-secret-of-16+"), now, body)
	otherSig := other[strings.Index(other, "v1=")+3:]
	ts := strconv.FormatInt(now.Unix(), 10)

	for _, tt := range []struct {
		name   string
		secret []byte
		header string
		body   []byte
		tol    time.Duration
		want   error
	}{
		{"OK", secret, valid, body, time.Minute, nil},
		{"OKDefaultTolerance", secret, valid, body, 0, nil},
		{"OKSpaces", secret, strings.ReplaceAll(valid, ",", " , "), body, time.Minute, nil},
		{"OKRotation", secret, valid[:strings.Index(valid, ",")] + ",v1=" + otherSig + ",v1=" + sig, body, time.Minute, nil},
		{"OKUnknownScheme", secret, valid + ",v0=zz", body, time.Minute, nil},
		{"WrongSecret", []byte("not-the-right-secret"), valid, body, time.Minute, webhook.ErrSignatureMismatch},
		{"TamperedBody", secret, valid, []byte(`{"id":"d1","type":"review.decided" }`), time.Minute, webhook.ErrSignatureMismatch},
		{"TamperedTimestamp", secret, "t=" + ts + ",v1=" + sig, body, time.Minute, webhook.ErrSignatureMismatch},
		{"Stale", secret, webhook.Sign(secret, now.Add(-10*time.Minute), body), body, 5 * time.Minute, webhook.ErrTimestamp},
		{"StaleDefaultTolerance", secret, webhook.Sign(secret, now.Add(-6*time.Minute), body), body, 0, webhook.ErrTimestamp},
		{"Future", secret, webhook.Sign(secret, now.Add(10*time.Minute), body), body, 5 * time.Minute, webhook.ErrTimestamp},
		{"NoSecret", nil, valid, body, time.Minute, webhook.ErrNoSecret},
		{"NoHeader", secret, "", body, time.Minute, webhook.ErrNoSignature},
		{"BlankHeader", secret, "  ", body, time.Minute, webhook.ErrNoSignature},
		{"NoTimestamp", secret, "v1=" + sig, body, time.Minute, webhook.ErrMalformedSignature},
		{"NoV1", secret, "t=" + ts, body, time.Minute, webhook.ErrMalformedSignature},
		{"OnlyOtherScheme", secret, "t=" + ts + ",v0=" + sig, body, time.Minute, webhook.ErrMalformedSignature},
		{"TwoTimestamps", secret, "t=" + ts + "," + valid, body, time.Minute, webhook.ErrMalformedSignature},
		{"BadTimestamp", secret, "t=yesterday,v1=" + sig, body, time.Minute, webhook.ErrMalformedSignature},
		{"NegativeTimestamp", secret, "t=-5,v1=" + sig, body, time.Minute, webhook.ErrMalformedSignature},
		{"NotHex", secret, "t=" + ts + ",v1=" + strings.Repeat("zz", 32), body, time.Minute, webhook.ErrMalformedSignature},
		{"ShortMAC", secret, "t=" + ts + ",v1=" + sig[:20], body, time.Minute, webhook.ErrMalformedSignature},
		{"NotKeyValue", secret, valid + ",garbage", body, time.Minute, webhook.ErrMalformedSignature},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := webhook.Verify(tt.secret, tt.header, tt.body, now, tt.tol)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}
