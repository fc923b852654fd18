package httpproxy

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/qgate/qgate"
)

// ListenerTLS returns the server TLS configuration of the target's
// listener when the target sets tls (cert and key), or nil for plain
// HTTP. When tls.ca is set too, clients must present a certificate signed
// by that CA (mutual TLS) besides their token.
func (p *Proxy) ListenerTLS() (*tls.Config, error) {
	files := p.Target.TLS
	if files == nil || (files.Cert == "" && files.Key == "" && files.CA == "") {
		return nil, nil
	}
	if files.Cert == "" || files.Key == "" {
		return nil, qgate.Errorf(qgate.EINVALID, "target %q: tls needs cert and key", p.Target.Name)
	}
	cert, err := tls.LoadX509KeyPair(files.Cert, files.Key)
	if err != nil {
		return nil, fmt.Errorf("target %q: load tls certificate: %w", p.Target.Name, err)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if files.CA != "" {
		pool, err := loadPool(files.CA)
		if err != nil {
			return nil, fmt.Errorf("target %q: tls ca: %w", p.Target.Name, err)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// upstreamTLS is the client TLS configuration toward an https upstream:
// the system roots or the configured CA, an optional client certificate,
// and insecure_skip_verify when set.
func upstreamTLS(files *qgate.TLSFiles) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if files == nil {
		return cfg, nil
	}
	if files.CA != "" {
		pool, err := loadPool(files.CA)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if (files.Cert == "") != (files.Key == "") {
		return nil, qgate.Errorf(qgate.EINVALID, "client certificate needs both cert and key")
	}
	if files.Cert != "" {
		cert, err := tls.LoadX509KeyPair(files.Cert, files.Key)
		if err != nil {
			return nil, fmt.Errorf("load client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	cfg.InsecureSkipVerify = files.InsecureSkipVerify
	return cfg, nil
}

func loadPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, qgate.Errorf(qgate.EINVALID, "%s holds no PEM certificate", file)
	}
	return pool, nil
}
