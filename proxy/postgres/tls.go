package pgproxy

import (
	"crypto/tls"
	"fmt"

	"github.com/qgate/qgate"
)

// listenerTLS returns the TLS configuration of the target's listener when
// the target has a certificate and key, or nil: SSLRequest is then
// answered 'N' and clients authenticate with SCRAM.
func listenerTLS(t *qgate.Target) (*tls.Config, error) {
	files := t.TLS
	if files == nil || (files.Cert == "" && files.Key == "") {
		return nil, nil
	}
	if files.Cert == "" || files.Key == "" {
		return nil, qgate.Errorf(qgate.EINVALID, "target %q: tls needs cert and key", t.Name)
	}
	cert, err := tls.LoadX509KeyPair(files.Cert, files.Key)
	if err != nil {
		return nil, fmt.Errorf("target %q: load tls certificate: %w", t.Name, err)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}, nil
}
