package httpproxy_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/qgate/qgate"
)

// writeCert writes a self-signed certificate for 127.0.0.1 and its key
// as PEM files.
func writeCert(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "qgate test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	return certFile, keyFile
}

func TestProxy_TLS(t *testing.T) {
	t.Parallel()
	// An https upstream trusted through the configured CA.
	tlsUp := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("over tls " + r.RequestURI))
	}))
	tlsUp.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake below
	tlsUp.StartTLS()
	defer tlsUp.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsUp.Certificate().Raw}), 0o600)

	certFile, keyFile := writeCert(t)
	e := newEnv(t, nil, func(tg *qgate.Target) {
		tg.HTTP.URL = tlsUp.URL
		tg.HTTP.TLS = &qgate.TLSFiles{CA: ca}
		tg.TLS = &qgate.TLSFiles{Cert: certFile, Key: keyFile}
	})
	res, b := e.call("GET", "/v1/users", nil, nil)
	if res.StatusCode != 200 || string(b) != "over tls /v1/users" {
		t.Fatalf("got %d %q", res.StatusCode, b)
	}

	// The listener's TLS configuration serves the target's certificate.
	cfg, err := e.proxy.ListenerTLS()
	if err != nil || cfg == nil {
		t.Fatalf("ListenerTLS = %v, %v", cfg, err)
	}
	pool := x509.NewCertPool()
	certPEM, _ := os.ReadFile(certFile)
	pool.AppendCertsFromPEM(certPEM)
	srv := serveProxy(t, e.proxy, cfg, pool)
	defer srv.Close()
	client := srv.Client()
	req, _ := http.NewRequest("GET", srv.URL+"/v1/users", nil)
	req.Header.Set("Authorization", "Bearer "+e.token)
	r2, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if r2.Body.Close(); r2.StatusCode != 200 {
		t.Fatalf("over the TLS listener: %d", r2.StatusCode)
	}
	if got := last(e.up); got.RequestURI != "" {
		t.Errorf("the plain upstream was used: %+v", got)
	}

	// Without the CA the upstream's certificate is refused: 502.
	e2 := newEnv(t, nil, func(tg *qgate.Target) { tg.HTTP.URL = tlsUp.URL })
	res, b = e2.call("GET", "/v1/users", nil, nil)
	mustProblem(t, res, b, http.StatusBadGateway)
	if p, _ := e2.proxy.ListenerTLS(); p != nil {
		t.Errorf("ListenerTLS without tls = %v", p)
	}
}
