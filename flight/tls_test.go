package flight

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	arrowflight "github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"slipstream/scheduler/cluster"
)

// testCA makes certificates for tests, written as PEM files under dir.
type testCA struct {
	t    *testing.T
	dir  string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t *testing.T, dir string) *testCA {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &testCA{t: t, dir: dir, cert: cert, key: key}
	ca.write("ca.crt", "CERTIFICATE", der)
	return ca
}

func (ca *testCA) write(name, kind string, der []byte) string {
	path := filepath.Join(ca.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		ca.t.Fatal(err)
	}
	return path
}

func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// issue writes name.crt and name.key: a node's certificate when unit is
// NodeUnit, valid until notAfter.
func (ca *testCA) issue(name, unit string, notAfter time.Time) (certFile, keyFile string) {
	return ca.issueAt(name, unit, notAfter, net.IPv4(127, 0, 0, 1))
}

// issueAt is issue for a host at ip.
func (ca *testCA) issueAt(name, unit string, notAfter time.Time, ip net.IP) (certFile, keyFile string) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: name, OrganizationalUnit: []string{unit}},
		NotBefore: notAfter.Add(-48 * time.Hour), NotAfter: notAfter, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: []net.IP{ip}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		ca.t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	return ca.write(name+".crt", "CERTIFICATE", der), ca.write(name+".key", "PRIVATE KEY", kder)
}

func TestLoadTLSNamesWhatIsWrong(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, dir)
	other := newTestCA(t, t.TempDir())
	soon := time.Now().Add(time.Hour)
	caFile := filepath.Join(dir, "ca.crt")
	nodeCrt, nodeKey := ca.issue("n1", NodeUnit, soon)
	if _, _, err := LoadTLS(nodeCrt, nodeKey, caFile, false, time.Now()); err != nil {
		t.Fatalf("a good node certificate: %v", err)
	}
	oldCrt, oldKey := ca.issue("old", NodeUnit, time.Now().Add(-time.Hour))
	_, _, err := LoadTLS(oldCrt, oldKey, caFile, false, time.Now())
	if err == nil || !strings.Contains(err.Error(), "expired at") {
		t.Errorf("expired: %v", err)
	}
	strayCrt, strayKey := other.issue("stray", NodeUnit, soon)
	_, _, err = LoadTLS(strayCrt, strayKey, caFile, false, time.Now())
	if err == nil || !strings.Contains(err.Error(), "not a server certificate signed by --tls-ca") {
		t.Errorf("another CA: %v", err)
	}
	clientCrt, clientKey := ca.issue("client", "slipstream-client", soon)
	_, _, err = LoadTLS(clientCrt, clientKey, caFile, false, time.Now())
	if err == nil || !strings.Contains(err.Error(), "not a node certificate") {
		t.Errorf("a client's certificate: %v", err)
	}
}

// Over mutual TLS a node certificate is a node (admin); a client's
// certificate of the same CA is no one without a token.
func TestNodeCertificateIsAdmin(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, dir)
	soon := time.Now().Add(time.Hour)
	nodeCrt, nodeKey := ca.issue("n1", NodeUnit, soon)
	server, peers, err := LoadTLS(nodeCrt, nodeKey, filepath.Join(dir, "ca.crt"), false, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tokens := filepath.Join(dir, "tokens.toml")
	if _, err := CreateToken(tokens, "r", Reader, 0, time.Now()); err != nil {
		t.Fatal(err)
	}
	auth, err := NewAuth(tokens, "")
	if err != nil {
		t.Fatal(err)
	}
	n := startNodeWith(t, 0, append(auth.ServerOptions(), grpc.Creds(credentials.NewTLS(server)))...)
	addr := strings.TrimPrefix(n.addr, "grpc://")
	dial := func(cfg *tls.Config) arrowflight.Client {
		c, err := arrowflight.NewClientWithMiddleware(addr, nil, nil, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	if err := action(context.Background(), dial(PeerTLS(peers, "127.0.0.1")), actCatalog, nil); err != nil {
		t.Errorf("a node's catalog call: %v", err)
	}
	clientCrt, clientKey := ca.issue("client", "slipstream-client", soon)
	pair, err := tls.LoadX509KeyPair(clientCrt, clientKey)
	if err != nil {
		t.Fatal(err)
	}
	asClient := dial(&tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: ca.pool()})
	wantCode(t, "a client certificate, no token", action(context.Background(), asClient, actCatalog, nil), codes.Unauthenticated, "no token")
	rtok, _ := CreateToken(tokens, "r2", Reader, 0, time.Now())
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := action(bearerCtx(rtok), asClient, actCatalog, nil)
		if status.Code(err) == codes.PermissionDenied || time.Now().After(deadline) {
			wantCode(t, "a client certificate and a reader token", err, codes.PermissionDenied, "needs role admin")
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A member whose Flight port fails the mutual TLS check is not alive for
// work; one that passes is.
func TestTrustedMembersPassedTheCheck(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, dir)
	other := newTestCA(t, t.TempDir())
	soon := time.Now().Add(time.Hour)
	serveTLS := func(certFile, keyFile, caFile string) string {
		server, _, err := LoadTLS(certFile, keyFile, caFile, true, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return "grpc+tls://" + strings.TrimPrefix(startNodeWith(t, 0, grpc.Creds(credentials.NewTLS(server))).addr, "grpc://")
	}
	goodCrt, goodKey := ca.issue("n2", NodeUnit, soon)
	good := serveTLS(goodCrt, goodKey, filepath.Join(dir, "ca.crt"))
	rogueCrt, rogueKey := other.issue("rogue", NodeUnit, soon)
	rogue := serveTLS(rogueCrt, rogueKey, filepath.Join(other.dir, "ca.crt"))

	selfCrt, selfKey := ca.issue("n1", NodeUnit, soon)
	_, peersTLS, err := LoadTLS(selfCrt, selfKey, filepath.Join(dir, "ca.crt"), true, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	peers := NewPeers(memory.NewGoAllocator())
	peers.Secure("", peersTLS)
	t.Cleanup(peers.Close)
	fake := cluster.NewFake(cluster.Member{Name: "n1", Addr: "grpc+tls://127.0.0.1:1", State: cluster.Alive},
		cluster.Member{Name: "n2", Addr: good, State: cluster.Alive},
		cluster.Member{Name: "rogue", Addr: rogue, State: cluster.Alive})
	trusted := Trust(fake, peers)
	var names []string
	for _, m := range trusted.Alive() {
		names = append(names, m.Name)
	}
	if strings.Join(names, ",") != "n1,n2" {
		t.Errorf("alive for work: %v, want n1,n2", names)
	}
	for _, m := range trusted.Members() {
		if want := map[string]cluster.State{"n1": cluster.Alive, "n2": cluster.Alive, "rogue": Untrusted}[m.Name]; m.State != want {
			t.Errorf("%s: state %s, want %s", m.Name, m.State, want)
		}
	}
}

// A node's certificate, key and CA are re-read when their files change: a
// rotated certificate is served and a new CA trusted for calls between
// nodes, without a restart; files that fail the checks are refused and the
// last good certificate kept.
func TestTLSFilesReloaded(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, dir)
	soon := time.Now().Add(time.Hour)
	crt, key := ca.issue("n1", NodeUnit, soon)
	caFile := filepath.Join(dir, "ca.crt")
	server, peers, err := LoadTLS(crt, key, caFile, false, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	n := startNodeWith(t, 0, grpc.Creds(credentials.NewTLS(server)))
	addr := strings.TrimPrefix(n.addr, "grpc://")
	// served is the certificate the node presents to a node dialling it
	// with cfg.
	served := func(cfg *tls.Config) (*big.Int, error) {
		cfg = cfg.Clone()
		cfg.NextProtos = []string{"h2"}
		conn, err := tls.Dial("tcp", addr, cfg)
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber, nil
	}
	serialOf := func(file string) *big.Int {
		pair, err := tls.LoadX509KeyPair(file, strings.TrimSuffix(file, ".crt")+".key")
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(pair.Certificate[0])
		return c.SerialNumber
	}
	wantServed := func(what string, want *big.Int) {
		t.Helper()
		got, err := served(PeerTLS(peers, "127.0.0.1"))
		if err != nil || got.Cmp(want) != 0 {
			t.Fatalf("%s: served serial %v (err %v), want %v", what, got, err, want)
		}
	}
	copyFile := func(dst, src string) {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	wantServed("at start", serialOf(crt))

	ca.issue("n1", NodeUnit, soon.Add(time.Hour)) // the same files, a new certificate
	time.Sleep(reloadEvery + 100*time.Millisecond)
	wantServed("a certificate rotated", serialOf(crt))

	dir2 := t.TempDir()
	ca2 := newTestCA(t, dir2)
	crt2, key2 := ca2.issue("n1", NodeUnit, soon)
	copyFile(caFile, filepath.Join(dir2, "ca.crt"))
	copyFile(key, key2)
	copyFile(crt, crt2)
	time.Sleep(reloadEvery + 100*time.Millisecond)
	wantServed("a new CA", serialOf(crt2))
	if _, err := served(&tls.Config{RootCAs: ca.pool()}); err == nil {
		t.Error("a client trusting only the old CA accepted the new certificate")
	}

	oldCrt, oldKey := ca2.issue("old", NodeUnit, time.Now().Add(-time.Minute))
	copyFile(key, oldKey)
	copyFile(crt, oldCrt)
	time.Sleep(reloadEvery + 100*time.Millisecond)
	wantServed("an expired certificate written over it", serialOf(crt2))
}

// A node checks that the certificate of the node it dials names the host
// it dialled, an IP address included: another node's certificate of the
// same CA does not pass for it.
func TestPeerCertificateMustNameTheHostDialled(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, dir)
	soon := time.Now().Add(time.Hour)
	caFile := filepath.Join(dir, "ca.crt")
	elsewhereCrt, elsewhereKey := ca.issueAt("n9", NodeUnit, soon, net.IPv4(10, 9, 9, 9))
	server, _, err := LoadTLS(elsewhereCrt, elsewhereKey, caFile, false, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	n := startNodeWith(t, 0, grpc.Creds(credentials.NewTLS(server)))
	addr := strings.TrimPrefix(n.addr, "grpc://")
	crt, key := ca.issue("n1", NodeUnit, soon)
	_, peers, err := LoadTLS(crt, key, caFile, false, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.Dial("tcp", addr, PeerTLS(peers, "127.0.0.1"))
	if err == nil {
		conn.Close()
		t.Fatal("a certificate for 10.9.9.9 passed for 127.0.0.1")
	}
	if !strings.Contains(err.Error(), "127.0.0.1") || !strings.Contains(err.Error(), "slipstream certs") {
		t.Errorf("the error names neither the host nor the fix: %v", err)
	}
	if conn, err := tls.Dial("tcp", addr, peers); err == nil {
		conn.Close()
		t.Error("dialled without a host to check, the certificate passed")
	}
}
