package flight

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// The tokens file (`serve --auth FILE`, written by `slipstream token`):
//
//	[[token]]
//	name = "alice"
//	role = "reader"
//	hash = "sha256:9f86d0…"
//	created = 2026-12-02T02:00:00Z
//	expires = 2027-01-01T00:00:00Z   # optional
//	revoked = 2026-12-03T10:00:00Z   # set by token revoke
//
// A token is "sst_" and 43 characters of URL-safe base64 (32 random bytes);
// only its SHA-256 is stored. The file is written whole to a temporary file
// and renamed, mode 0600, so a node re-reading it never sees half of it.

// TokenFile is the contents of a tokens file.
type TokenFile struct {
	Tokens []TokenEntry `toml:"token"`
}

// TokenEntry is one token: its name, role and hash, never the token.
type TokenEntry struct {
	Name    string    `toml:"name"`
	Role    string    `toml:"role"`
	Hash    string    `toml:"hash"`
	Created time.Time `toml:"created"`
	Expires time.Time `toml:"expires,omitempty"`
	Revoked time.Time `toml:"revoked,omitempty"`
}

const tokenPrefix = "sst_"

var tokenName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$`)

// NewToken is a fresh random token (256 bits) and the hash to store.
func NewToken() (token, hash string, err error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", "", err
	}
	token = tokenPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	return token, HashToken(token), nil
}

// HashToken is the stored form of a token. A token is 256 random bits, so
// a fast hash is enough: no one can guess a preimage, and a slow
// password hash would cost every call its time.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ReadTokens reads a tokens file and checks every entry; a missing file
// is an empty one.
func ReadTokens(path string) (TokenFile, error) {
	var f TokenFile
	raw, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return f, nil
	}
	if err != nil {
		return f, err
	}
	md, err := toml.Decode(string(raw), &f)
	if err != nil {
		return f, fmt.Errorf("tokens file %s: %w", path, err)
	}
	if extra := md.Undecoded(); len(extra) > 0 {
		return f, fmt.Errorf("tokens file %s: unknown key %s (a token has name, role, hash, created, expires, revoked)", path, extra[0])
	}
	seen := map[string]bool{}
	for i, e := range f.Tokens {
		if !tokenName.MatchString(e.Name) {
			return f, fmt.Errorf("tokens file %s: token %d has name %q; want letters, digits and _.@- (at most 64)", path, i+1, e.Name)
		}
		if seen[e.Name] {
			return f, fmt.Errorf("tokens file %s: two tokens are named %q", path, e.Name)
		}
		seen[e.Name] = true
		if _, err := ParseRole(e.Role); err != nil {
			return f, fmt.Errorf("tokens file %s: token %q: %w", path, e.Name, err)
		}
		if h, ok := strings.CutPrefix(e.Hash, "sha256:"); !ok || len(h) != 64 {
			return f, fmt.Errorf("tokens file %s: token %q has hash %q; want sha256:<64 hex digits>", path, e.Name, e.Hash)
		}
	}
	return f, nil
}

// WriteTokens replaces the tokens file with f, atomically, mode 0600.
func WriteTokens(path string, f TokenFile) error {
	var buf bytes.Buffer
	buf.WriteString("# Slipstream tokens (slipstream token create/list/revoke). Only hashes are kept here.\n")
	if err := toml.NewEncoder(&buf).Encode(f); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tokens-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// CreateToken adds a token named name with role to the file at path (made
// if missing) and returns the token; expires 0 means it never expires.
func CreateToken(path, name string, role Role, expires time.Duration, now time.Time) (string, error) {
	if !tokenName.MatchString(name) {
		return "", fmt.Errorf("--name %q: want letters, digits and _.@- (at most 64, starting with a letter or digit)", name)
	}
	f, err := ReadTokens(path)
	if err != nil {
		return "", err
	}
	for _, e := range f.Tokens {
		if e.Name == name {
			return "", fmt.Errorf("a token named %q exists already in %s; revoke it and choose another name", name, path)
		}
	}
	token, hash, err := NewToken()
	if err != nil {
		return "", err
	}
	e := TokenEntry{Name: name, Role: role.String(), Hash: hash, Created: now.UTC().Truncate(time.Second)}
	if expires > 0 {
		e.Expires = now.Add(expires).UTC().Truncate(time.Second)
	}
	f.Tokens = append(f.Tokens, e)
	return token, WriteTokens(path, f)
}

// RevokeToken marks the token named name revoked; nodes reading the file
// refuse it from then on.
func RevokeToken(path, name string, now time.Time) error {
	f, err := ReadTokens(path)
	if err != nil {
		return err
	}
	for i := range f.Tokens {
		if f.Tokens[i].Name == name {
			if !f.Tokens[i].Revoked.IsZero() {
				return fmt.Errorf("token %q was revoked already, at %s", name, f.Tokens[i].Revoked.Format(time.RFC3339))
			}
			f.Tokens[i].Revoked = now.UTC().Truncate(time.Second)
			return WriteTokens(path, f)
		}
	}
	return fmt.Errorf("no token named %q in %s (slipstream token list shows them)", name, path)
}
