package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/piivault/piivault/internal/testenv"
	"github.com/piivault/piivault/sdk"
)

// testCA issues certificates for the TLS test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newCA(t *testing.T) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "piivault test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a PEM certificate and key signed by the CA.
func (ca *testCA) issue(t *testing.T, cn string, uri string, server bool) (certPEM, keyPEM []byte) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	if uri != "" {
		u, _ := url.Parse(uri)
		tmpl.URIs = []*url.URL{u}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

func write(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestMutualTLS serves HTTPS and maps a client certificate's SPIFFE ID to
// a principal; bearer tokens keep working over TLS.
func TestMutualTLS(t *testing.T) {
	dir, data := t.TempDir(), t.TempDir()
	ca := newCA(t)
	srvCert, srvKey := ca.issue(t, "piivault", "", true)
	spiffe := "spiffe://example.org/ns/shop/sa/orders"
	cliCert, cliKey := ca.issue(t, "orders", spiffe, false)
	env := []string{
		"PIIVAULT_TLS_CERT_FILE=" + write(t, dir, "server.pem", srvCert),
		"PIIVAULT_TLS_KEY_FILE=" + write(t, dir, "server.key", srvKey),
		"PIIVAULT_TLS_CLIENT_CA_FILE=" + write(t, dir, "ca.pem", ca.pem),
		"PIIVAULT_CLIENT_CERTS_FILE=" + write(t, dir, "certs.yaml", []byte("- match: "+spiffe+"\n  principal: orders\n  roles: [service]\n")),
	}
	admin := cli(t, nil, "token", "create", "--data", data, "--principal", "ops", "--roles", "admin")
	s := start(t, &testenv.Buffer{}, env, "--listen", "127.0.0.1:0", "--data", data)
	if s.scheme != "https" {
		t.Fatalf("scheme = %q, want https", s.scheme)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.pem)
	pair, err := tls.X509KeyPair(cliCert, cliKey)
	if err != nil {
		t.Fatal(err)
	}
	client := func(withCert bool) *http.Client {
		c := &tls.Config{RootCAs: pool}
		if withCert {
			c.Certificates = []tls.Certificate{pair}
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: c}}
	}
	base := "https://" + s.addr
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	withCert, _ := sdk.New(base, sdk.WithHTTPClient(client(true)))
	res, err := withCert.Append(ctx, "orders-1", sdk.NoStream, sdk.EventInput{Type: "OrderPlaced", Data: json.RawMessage(`{"total":3}`)})
	if err != nil || res.LastVersion != 1 {
		t.Fatalf("append with a client certificate = %+v, %v", res, err)
	}
	noCert, _ := sdk.New(base, sdk.WithHTTPClient(client(false)))
	if _, err := noCert.Verify(ctx); !errors.Is(err, sdk.ErrUnauthenticated) {
		t.Errorf("call without certificate or token: err = %v, want ErrUnauthenticated", err)
	}
	tok, _ := sdk.New(base, sdk.WithHTTPClient(client(false)), sdk.WithToken(admin[:len(admin)-1]))
	if _, err := tok.ListSchemas(ctx); err != nil {
		t.Errorf("bearer token over TLS: %v", err)
	}
	// The client certificate's principal is a service: no admin rights.
	if _, err := withCert.ListSchemas(ctx); !errors.Is(err, sdk.ErrDenied) {
		t.Errorf("service principal listing schemas: err = %v, want ErrDenied", err)
	}
	s.stop()
}
