package cattail

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// TLSOptions configures wss:// (PROTOCOL.md §8): the CA that signed the server's certificate,
// this client's certificate and key for mTLS, and optionally the server identity to require.
type TLSOptions struct {
	CAFile   string
	CertFile string
	KeyFile  string
	// ServerCommonName and ServerURISAN, when either is set, replace the host name check: the
	// server's certificate must chain to the CA and carry this CN or this URI SAN (either
	// matching is enough when both are set), as Typha's clients check it.
	ServerCommonName string
	ServerURISAN     string
}

func buildTLSConfig(o *TLSOptions) (*tls.Config, error) {
	if o == nil {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, &Error{Code: CodeTLSConfig, Reason: "reading CAFile", Err: err}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, &Error{Code: CodeTLSConfig, Reason: "CAFile " + o.CAFile + " holds no PEM certificate"}
		}
		cfg.RootCAs = pool
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return nil, &Error{Code: CodeTLSConfig, Reason: "CertFile and KeyFile go together"}
	}
	if o.CertFile != "" {
		pair, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, &Error{Code: CodeTLSConfig, Reason: "loading the client certificate", Err: err}
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	if o.ServerCommonName != "" || o.ServerURISAN != "" {
		// The chain is verified here instead of by crypto/tls, because the identity to check is
		// the CN / URI SAN, not the address dialled.
		roots := cfg.RootCAs
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			return verifyServerIdentity(cs.PeerCertificates, roots, o.ServerCommonName, o.ServerURISAN)
		}
	}
	return cfg, nil
}

var errServerIdentity = errors.New("server certificate identity mismatch")

func verifyServerIdentity(certs []*x509.Certificate, roots *x509.CertPool, cn, uriSAN string) error {
	if len(certs) == 0 {
		return errors.New("server sent no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	leaf := certs[0]
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return err
	}
	if cn != "" && leaf.Subject.CommonName == cn {
		return nil
	}
	if uriSAN != "" {
		for _, u := range leaf.URIs {
			if u.String() == uriSAN {
				return nil
			}
		}
	}
	uris := make([]string, 0, len(leaf.URIs))
	for _, u := range leaf.URIs {
		uris = append(uris, u.String())
	}
	return fmt.Errorf("%w: certificate has CN %q and URI SANs %q, want CN %q or URI SAN %q", errServerIdentity, leaf.Subject.CommonName, uris, cn, uriSAN)
}
