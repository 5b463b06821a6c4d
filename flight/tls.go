package flight

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"slipstream/scheduler/cluster"
)

// TLS and mutual TLS. A node serves Flight over TLS with its certificate
// (--tls-cert, --tls-key) and trusts one CA, the cluster's (--tls-ca).
// Calls between nodes are mutual: the caller presents its node certificate
// (organizational unit NodeUnit, signed by the CA), which the callee takes
// for a node (role admin; auth.go), and checks the callee's certificate is
// a node's too. A member of the gossip whose Flight port fails that check
// gets no work (Trusted).

// LoadTLS reads a node's certificate, key and CA and checks them: the
// certificate must be valid now, signed by the CA and a node's. It returns
// the server's TLS settings — client certificates verified when given
// (required when requireClients, i.e. no tokens authenticate callers) —
// and the settings the node dials other nodes with. Both take the files as
// they are at each handshake (certFiles), so certificates and the CA can be
// rotated without a restart.
func LoadTLS(certFile, keyFile, caFile string, requireClients bool, now time.Time) (server, peers *tls.Config, err error) {
	files := &certFiles{cert: certFile, key: keyFile, ca: caFile}
	if files.stamps, err = files.stat(); err != nil {
		return nil, nil, err
	}
	if files.state, err = files.load(now); err != nil {
		return nil, nil, err
	}
	clientAuth := tls.VerifyClientCertIfGiven
	if requireClients {
		clientAuth = tls.RequireAndVerifyClientCert
	}
	server = &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			s := files.current()
			return &tls.Config{Certificates: []tls.Certificate{s.pair}, ClientCAs: s.pool, ClientAuth: clientAuth, MinVersion: tls.VersionTLS12}, nil
		},
	}
	peers = &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			s := files.current()
			return &s.pair, nil
		},
		// Go's own verification would take a fixed RootCAs; VerifyConnection
		// does the same checks (chain to the CA, host name) against the CA
		// of the moment, and also requires the other end to be a node, not
		// merely a holder of a certificate of the CA (a client's, say).
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return files.current().verifyNode(cs)
		},
	}
	return server, peers, nil
}

// certFiles are a node's certificate, key and CA files. They are looked at
// again at most once a second (reloadEvery, as the tokens file), at a
// handshake; when one changed they are
// read and checked again, and a set that fails the checks (a file half
// written, a certificate expired or of another CA) is refused with a
// warning, the node keeping the last good one.
type certFiles struct {
	cert, key, ca string

	mu      sync.Mutex
	state   certState
	stamps  [3]fileStamp
	checked time.Time
	refused [3]fileStamp // the last set refused, warned about once
}

// certState is a checked certificate and the CA pool it is checked against.
type certState struct {
	pair tls.Certificate
	pool *x509.CertPool
}

func (f *certFiles) stat() ([3]fileStamp, error) {
	var out [3]fileStamp
	for i, p := range []string{f.cert, f.key, f.ca} {
		st, err := stampOf(p)
		if err != nil {
			return out, fmt.Errorf("%s: %w", []string{"--tls-cert", "--tls-key", "--tls-ca"}[i], err)
		}
		out[i] = st
	}
	return out, nil
}

// current is the certificate to use now, re-read if its files changed.
func (f *certFiles) current() certState {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	if now.Sub(f.checked) < reloadEvery {
		return f.state
	}
	f.checked = now
	stamps, err := f.stat()
	if err != nil || stamps == f.stamps || stamps == f.refused {
		return f.state
	}
	s, err := f.load(now)
	if err != nil {
		f.refused = stamps
		slog.Warn("the changed TLS files were refused; the node keeps its certificate", "err", err)
		return f.state
	}
	f.state, f.stamps = s, stamps
	slog.Info("TLS certificate reloaded", "cert", f.cert, "not_after", s.pair.Leaf.NotAfter.UTC().Format(time.RFC3339))
	return f.state
}

// load reads the files and checks them.
func (f *certFiles) load(now time.Time) (certState, error) {
	pair, err := tls.LoadX509KeyPair(f.cert, f.key)
	if err != nil {
		return certState{}, fmt.Errorf("--tls-cert %s / --tls-key %s: %w", f.cert, f.key, err)
	}
	if pair.Leaf == nil {
		if pair.Leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return certState{}, fmt.Errorf("--tls-cert %s: %w", f.cert, err)
		}
	}
	leaf := pair.Leaf
	if now.After(leaf.NotAfter) {
		return certState{}, fmt.Errorf("--tls-cert %s expired at %s; make a new one (slipstream certs)", f.cert, leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if now.Before(leaf.NotBefore) {
		return certState{}, fmt.Errorf("--tls-cert %s is not valid before %s (check the clock)", f.cert, leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	pem, err := os.ReadFile(f.ca)
	if err != nil {
		return certState{}, fmt.Errorf("--tls-ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return certState{}, fmt.Errorf("--tls-ca %s holds no PEM certificate", f.ca)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return certState{}, fmt.Errorf("--tls-cert %s is not a server certificate signed by --tls-ca %s: %w", f.cert, f.ca, err)
	}
	if !isNodeCert(leaf) {
		return certState{}, fmt.Errorf("--tls-cert %s is not a node certificate (its subject has no OU=%s); make one with slipstream certs", f.cert, NodeUnit)
	}
	return certState{pair: pair, pool: pool}, nil
}

// PeerTLS is cfg (LoadTLS's settings for dialling nodes) for dialling the
// node at host: the certificate is checked against host, which the TLS
// state does not carry when host is an IP address (no SNI is sent for one).
func PeerTLS(cfg *tls.Config, host string) *tls.Config {
	out := cfg.Clone()
	out.ServerName = host
	verify := cfg.VerifyConnection
	out.VerifyConnection = func(cs tls.ConnectionState) error {
		cs.ServerName = host
		return verify(cs)
	}
	return out
}

// verifyNode checks the certificate another node presented: a chain to the
// CA, for the host dialled, and a node's.
func (s certState) verifyNode(cs tls.ConnectionState) error {
	if cs.ServerName == "" {
		return fmt.Errorf("tls: no host name to check the other node's certificate against (dial it through PeerTLS)")
	}
	if len(cs.PeerCertificates) == 0 {
		return fmt.Errorf("%s presented no certificate", cs.ServerName)
	}
	leaf := cs.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: s.pool, Intermediates: inter, DNSName: cs.ServerName}); err != nil {
		return fmt.Errorf("tls: the certificate of node %s: %w (make its certificate with slipstream certs --hosts naming %s)", cs.ServerName, err, cs.ServerName)
	}
	if !isNodeCert(leaf) {
		return fmt.Errorf("the certificate of %s is not a node certificate (no OU=%s)", cs.ServerName, NodeUnit)
	}
	return nil
}

// Untrusted is the state of a member whose Flight port failed the TLS
// check: it may gossip, but gets no work.
const Untrusted cluster.State = "untrusted"

// Trusted is a membership whose alive members are only the nodes that
// passed a mutual TLS check (a health call with this node's certificate).
type Trusted struct {
	cluster.Membership
	peers   *Peers
	changes chan struct{}

	mu       sync.Mutex
	verdicts map[string]verdict // by Flight address
	checking map[string]bool    // a check under way in the background
}

type verdict struct {
	trusted bool
	next    time.Time // when to check again; zero: never
	why     string
}

// untrustedRecheck is how often a member that failed the check is tried
// again (its certificate may have been fixed); unansweredRecheck how often
// one that did not answer is (it is taken for trusted meanwhile: whether
// it is up is the failure detector's business).
const (
	untrustedRecheck  = 30 * time.Second
	unansweredRecheck = 5 * time.Second
)

// Trust wraps members: new members are checked before a change is passed
// on.
func Trust(members cluster.Membership, peers *Peers) *Trusted {
	t := &Trusted{Membership: members, peers: peers, changes: make(chan struct{}, 1), verdicts: map[string]verdict{}, checking: map[string]bool{}}
	go func() {
		for range members.Changes() {
			for _, m := range members.Alive() {
				t.trusted(m)
			}
			select {
			case t.changes <- struct{}{}:
			default:
			}
		}
	}()
	return t
}

// Changes implements cluster.Membership.
func (t *Trusted) Changes() <-chan struct{} { return t.changes }

// Alive implements cluster.Membership: alive and trusted.
func (t *Trusted) Alive() []cluster.Member {
	var out []cluster.Member
	for _, m := range t.Membership.Alive() {
		if t.trusted(m) {
			out = append(out, m)
		}
	}
	return out
}

// Members implements cluster.Membership; an alive member that failed the
// check is Untrusted.
func (t *Trusted) Members() []cluster.Member {
	ms := t.Membership.Members()
	for i, m := range ms {
		if m.State == cluster.Alive && !t.trusted(m) {
			ms[i].State = Untrusted
		}
	}
	return ms
}

// trusted checks m when first seen, and again in the background when its
// verdict is due (see untrustedRecheck). Only a failed TLS check
// distrusts.
func (t *Trusted) trusted(m cluster.Member) bool {
	if m.Name == t.Self().Name {
		return true
	}
	t.mu.Lock()
	v, seen := t.verdicts[m.Addr]
	due := seen && !v.next.IsZero() && !time.Now().Before(v.next) && !t.checking[m.Addr]
	if due {
		t.checking[m.Addr] = true
	}
	t.mu.Unlock()
	if !seen {
		return t.check(m).trusted
	}
	if due {
		go t.check(m)
	}
	return v.trusted
}

// check makes a health call to m with this node's certificate and keeps
// the verdict.
func (t *Trusted) check(m cluster.Member) verdict {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := t.peers.Health(ctx, m.Addr)
	var v verdict
	switch {
	case err == nil:
		v = verdict{trusted: true}
	case tlsFailure(err):
		v = verdict{trusted: false, next: time.Now().Add(untrustedRecheck), why: err.Error()}
	default:
		v = verdict{trusted: true, next: time.Now().Add(unansweredRecheck)}
	}
	t.mu.Lock()
	old, had := t.verdicts[m.Addr]
	t.verdicts[m.Addr] = v
	delete(t.checking, m.Addr)
	t.mu.Unlock()
	if !v.trusted && (!had || old.trusted || old.why != v.why) {
		slog.Warn("a member failed the TLS check and gets no work", "node", m.Name, "addr", m.Addr, "err", v.why)
	}
	return v
}

// tlsFailure says an error is a failed certificate check, as gRPC reports it.
func tlsFailure(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "x509:") || strings.Contains(msg, "tls:") || strings.Contains(msg, "not a node certificate")
}
