package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"slipstream/flight"
)

const certsUsage = `usage:
  slipstream certs --out DIR --hosts n1,n2,n3 [--days 365]

Makes a development CA (ca.crt, ca.key), a node certificate per host
(HOST.crt, HOST.key: the host's name, localhost, 127.0.0.1 and ::1, usable
to serve and to call other nodes) and a client certificate (client.crt,
client.key). Keys are written 0600. For production, have your own CA sign
node certificates whose subject has OU=` + flight.NodeUnit + `.
`

// certs writes a development CA and certificates signed by it.
func certs(args []string) error {
	fs := flag.NewFlagSet("certs", flag.ContinueOnError)
	out := fs.String("out", "", "the directory to write to (made if missing; existing files are not overwritten)")
	hosts := fs.String("hosts", "", "comma-separated node host names (or IP addresses), one certificate each")
	days := fs.Int("days", 365, "how long the certificates are valid; a negative number makes certificates that expired that many days ago (to test the errors)")
	fs.Usage = func() { fmt.Fprint(os.Stderr, certsUsage) }
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || *hosts == "" || fs.NArg() > 0 {
		return fmt.Errorf("needs --out and --hosts\n\n%s", certsUsage)
	}
	if *days == 0 {
		return fmt.Errorf("--days 0: want a number of days the certificates are valid")
	}
	var names []string
	for _, h := range strings.Split(*hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			if strings.ContainsAny(h, "/\\") || h == "ca" || h == "client" {
				return fmt.Errorf("--hosts: %q is not a host name", h)
			}
			names = append(names, h)
		}
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	files := []string{"ca.crt", "ca.key", "client.crt", "client.key"}
	for _, h := range names {
		files = append(files, h+".crt", h+".key")
	}
	for _, f := range files {
		if _, err := os.Stat(filepath.Join(*out, f)); err == nil {
			return fmt.Errorf("%s exists already; choose another --out or remove it", filepath.Join(*out, f))
		}
	}
	now := time.Now()
	from, until := now.Add(-time.Hour), now.Add(time.Duration(*days)*24*time.Hour)
	if *days < 0 {
		from, until = now.Add(time.Duration(*days-1)*24*time.Hour), now.Add(time.Duration(*days)*24*time.Hour)
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	caTmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "Slipstream development CA", Organization: []string{"Slipstream"}},
		NotBefore:             from,
		NotAfter:              until,
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caCert, err := sign(caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	if err := writePair(*out, "ca", caCert, caKey); err != nil {
		return err
	}
	for _, h := range names {
		tmpl := &x509.Certificate{
			Subject:     pkix.Name{CommonName: h, Organization: []string{"Slipstream"}, OrganizationalUnit: []string{flight.NodeUnit}},
			NotBefore:   from,
			NotAfter:    until,
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
			DNSNames:    []string{"localhost"},
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		}
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "localhost" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
		if err := issue(*out, h, tmpl, caCert, caKey); err != nil {
			return err
		}
	}
	client := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "client", Organization: []string{"Slipstream"}, OrganizationalUnit: []string{"slipstream-client"}},
		NotBefore:   from,
		NotAfter:    until,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if err := issue(*out, "client", client, caCert, caKey); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "wrote a development CA, %d node certificates and a client certificate to %s (valid until %s)\n",
		len(names), *out, until.UTC().Format(time.RFC3339))
	return nil
}

func issue(dir, name string, tmpl, ca *x509.Certificate, caKey *ecdsa.PrivateKey) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	cert, err := sign(tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	return writePair(dir, name, cert, key)
}

func sign(tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, signer *ecdsa.PrivateKey) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

func writePair(dir, name string, cert *x509.Certificate, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, name+".key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, name+".crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o644)
}
