package fsroot_test

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"slipstream/kernels"
	"slipstream/kernels/fsroot"
)

const (
	secret = "SECRET-OUTSIDE"
	inside = "DATA-INSIDE"
	inner  = "INNER-INSIDE"
)

// tree builds, under a temporary directory T:
//
//	T/outside/secret.txt            the file no payload may read
//	T/allowed/                      the one root
//	  data.txt, sub/inner.txt       plain files
//	  link_in -> sub/inner.txt      a link that stays inside
//	  link_out -> ../outside/secret.txt, link_abs -> T/outside/secret.txt,
//	  link_etc -> /etc/passwd, link_abs_in -> T/allowed/data.txt (absolute)
//	  chain1 -> chain2 -> link_out  a chain leading out
//	  dir_out -> ../outside         a directory link leading out
//	  sub2/deep_out -> ../../outside/secret.txt
//	  evil/ok.txt, evil/x.txt -> ../../outside/secret.txt
//	  loop1 <-> loop2
//	T/alias -> allowed              the root given through a link
func tree(t *testing.T) (root, allowed, outside string) {
	t.Helper()
	root = t.TempDir()
	allowed = filepath.Join(root, "allowed")
	outside = filepath.Join(root, "outside")
	for _, d := range []string{outside, filepath.Join(allowed, "sub"), filepath.Join(allowed, "sub2"), filepath.Join(allowed, "evil")} {
		must(t, os.MkdirAll(d, 0o755))
	}
	write := func(path, text string) { must(t, os.WriteFile(path, []byte(text), 0o644)) }
	write(filepath.Join(outside, "secret.txt"), secret)
	write(filepath.Join(allowed, "data.txt"), inside)
	write(filepath.Join(allowed, "sub", "inner.txt"), inner)
	write(filepath.Join(allowed, "evil", "ok.txt"), inside)
	links := [][2]string{
		{"sub/inner.txt", "link_in"},
		{"../outside/secret.txt", "link_out"},
		{filepath.Join(outside, "secret.txt"), "link_abs"},
		{"/etc/passwd", "link_etc"},
		{filepath.Join(allowed, "data.txt"), "link_abs_in"},
		{"chain2", "chain1"},
		{"link_out", "chain2"},
		{"../outside", "dir_out"},
		{"../../outside/secret.txt", "sub2/deep_out"},
		{"../../outside/secret.txt", "evil/x.txt"},
		{"loop2", "loop1"},
		{"loop1", "loop2"},
	}
	for _, l := range links {
		must(t, os.Symlink(l[0], filepath.Join(allowed, l[1])))
	}
	must(t, os.Symlink("allowed", filepath.Join(root, "alias")))
	return root, allowed, outside
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// read does what the engine does with a user's path: expand the glob,
// stat each match, list a directory's files, open and read each file. It
// returns what it read, and the first error.
func read(rs *fsroot.Roots, p string) ([]string, error) {
	matches, err := rs.Glob(p)
	if err != nil {
		return nil, err
	}
	if len(matches) == 0 {
		return nil, kernels.Errorf(kernels.NotFound, "no file matches %s", p)
	}
	var got []string
	for _, m := range matches {
		st, err := rs.Stat(m)
		if err != nil {
			return got, err
		}
		files := []string{m}
		if st.IsDir() {
			entries, err := rs.ReadDir(m)
			if err != nil {
				return got, err
			}
			files = nil
			for _, e := range entries {
				if !e.IsDir() {
					files = append(files, filepath.Join(m, e.Name()))
				}
			}
		}
		for _, f := range files {
			text, err := readFile(rs, f)
			if err != nil {
				return got, err
			}
			got = append(got, text)
		}
	}
	return got, nil
}

func readFile(rs *fsroot.Roots, p string) (string, error) {
	f, err := rs.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	return string(b), err
}

// kind is the error's kind as the server would report it.
func kind(err error) kernels.Kind {
	var ke *kernels.Error
	if errors.As(err, &ke) {
		return ke.Kind
	}
	if errors.Is(err, fs.ErrNotExist) {
		return kernels.NotFound
	}
	return kernels.Internal
}

func leaked(texts []string) bool {
	for _, s := range texts {
		if strings.Contains(s, secret) || strings.Contains(s, "root:") {
			return true
		}
	}
	return false
}

func TestTraversalRefused(t *testing.T) {
	root, allowed, outside := tree(t)
	rs, err := fsroot.Open(allowed)
	must(t, err)
	defer rs.Close()
	A, O, T := allowed, outside, root
	payloads := []string{
		// absolute paths elsewhere
		"/etc/passwd", "/etc/shadow", "/etc/*", "/*/passwd", "/", "/*", "//etc/passwd", "/./etc/passwd",
		"/proc/self/root/etc/passwd", "/dev/stdin", O + "/secret.txt", O, O + "/*", T, T + "/*", T + "/*/secret.txt",
		// .. escapes
		A + "/../outside/secret.txt", A + "/../../../../../../etc/passwd", A + "/sub/../../outside/secret.txt",
		A + "/./../outside/secret.txt", A + "//../outside/secret.txt", A + "/sub/./../../outside/secret.txt",
		A + "/../" + filepath.Base(A) + "/../outside/secret.txt", A + "/link_in/../../outside/secret.txt",
		// globs reaching out
		A + "/../*", A + "/../outside/*", A + "/../*/secret.txt", A + "/*/../../outside/secret.txt",
		A + "/[.][.]/outside/secret.txt", A + "/.?/outside/secret.txt", A + "/**/secret.txt", A + "/**",
		A + "/*", A + "/link_*", A + "/dir_out/*",
		// encoded and doubled dots, other separators
		A + "/%2e%2e/outside/secret.txt", A + "/%2e%2e%2foutside%2fsecret.txt", A + "/..%2f..%2fetc%2fpasswd",
		A + "/%252e%252e/outside/secret.txt", A + "/....//outside/secret.txt", A + "/....//....//etc/passwd",
		A + "/..././outside/secret.txt", A + "/.../outside/secret.txt", A + "/..;/outside/secret.txt",
		A + `/..\outside\secret.txt`, "file://" + O + "/secret.txt", "~/../../etc/passwd",
		// unicode look-alikes of dots and slashes
		A + "/\u2024\u2024/outside/secret.txt", A + "/\uff0e\uff0e/outside/secret.txt", A + "/\u2025/outside/secret.txt",
		A + "/..\u2215outside\u2215secret.txt", A + "/..\u2044outside\u2044secret.txt", A + "/\uff0f..\uff0fetc\uff0fpasswd",
		"\uff0fetc\uff0fpasswd",
		// NUL bytes
		"/etc/passwd\x00.parquet", A + "/data.txt\x00/../../outside/secret.txt", A + "/..\x00/outside/secret.txt",
		A + "/data.txt\x00",
		// symbolic links out, chains, directories holding one
		A + "/link_out", A + "/link_abs", A + "/link_etc", A + "/chain1", A + "/chain2", A + "/dir_out",
		A + "/dir_out/secret.txt", A + "/sub2/deep_out", A + "/sub2", A + "/sub2/*", A + "/evil", A + "/evil/*",
		A + "/evil/x.txt", A + "/sub/../link_out", A + "/link_abs_in",
	}
	if len(payloads) < 50 {
		t.Fatalf("only %d payloads", len(payloads))
	}
	for _, p := range payloads {
		got, err := read(rs, p)
		t.Logf("%q: %v", p, err)
		if leaked(got) {
			t.Errorf("%q read outside the root: %q", p, got)
		}
		if k := kind(err); err == nil || (k != kernels.PermissionDenied && k != kernels.NotFound) {
			t.Errorf("%q: got %v (kind %v), want PermissionDenied or NotFound", p, err, k)
		}
		// Each way in on its own refuses too.
		if text, err := readFile(rs, p); err == nil || leaked([]string{text}) {
			t.Errorf("Open(%q) was not refused: %q, %v", p, text, err)
		}
		if _, err := rs.Stat(p); err == nil && !strings.HasPrefix(filepath.Clean(p), A) {
			t.Errorf("Stat(%q) answered for a path outside the root", p)
		}
		if entries, err := rs.ReadDir(p); err == nil && !strings.HasPrefix(filepath.Clean(p), A) {
			t.Errorf("ReadDir(%q) listed %d entries outside the root", p, len(entries))
		}
		matches, _ := rs.Glob(p)
		for _, m := range matches {
			if !strings.HasPrefix(m, A+string(filepath.Separator)) && m != A {
				t.Errorf("Glob(%q) listed %s, outside the root", p, m)
			}
		}
	}
	// A loop of links is refused (too many levels), reading nothing.
	for _, p := range []string{A + "/loop1", A + "/loop2"} {
		if got, err := read(rs, p); err == nil || leaked(got) {
			t.Errorf("%q: got %q, %v; want an error", p, got, err)
		}
	}
}

func TestRelativePathsAreFromTheWorkingDirectory(t *testing.T) {
	_, allowed, _ := tree(t)
	rs, err := fsroot.Open(allowed)
	must(t, err)
	defer rs.Close()
	t.Chdir(filepath.Join(allowed, "sub"))
	for _, p := range []string{"../../outside/secret.txt", "../../../../etc/passwd", "../..", "../../*", "./../../outside/secret.txt", "../link_out", "../dir_out/secret.txt", "../../*/secret.txt"} {
		got, err := read(rs, p)
		if k := kind(err); leaked(got) || err == nil || (k != kernels.PermissionDenied && k != kernels.NotFound) {
			t.Errorf("%q: got %q, %v", p, got, err)
		}
	}
	for p, want := range map[string]string{"inner.txt": inner, "./inner.txt": inner, "../data.txt": inside, "*.txt": inner, "../link_in": inner} {
		got, err := read(rs, p)
		if err != nil || !slices.Equal(got, []string{want}) {
			t.Errorf("%q: got %q, %v; want %q", p, got, err, want)
		}
	}
}

func TestAllowedPathsWork(t *testing.T) {
	root, allowed, _ := tree(t)
	rs, err := fsroot.Open(allowed)
	must(t, err)
	defer rs.Close()
	A := allowed
	for p, want := range map[string][]string{
		A + "/data.txt":          {inside},
		A + "/*.txt":             {inside},
		A + "/link_in":           {inner},
		A + "/sub":               {inner},
		A + "/sub/":              {inner},
		A + "/s?b/*.txt":         {inner},
		A + "/sub/../data.txt":   {inside},
		A + "/evil/ok.txt":       {inside},
		root + "/alias/data.txt": {inside}, // through a link to the root
		root + "/alias/*.txt":    {inside},
	} {
		got, err := read(rs, p)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("%q: got %q, %v; want %q", p, got, err, want)
		}
	}
	// The root given through a link: both spellings work.
	viaLink, err := fsroot.Open(root + "/alias")
	must(t, err)
	defer viaLink.Close()
	for _, p := range []string{root + "/alias/data.txt", A + "/data.txt", root + "/alias/link_in/../data.txt"} {
		if text, err := readFile(viaLink, p); err != nil || text != inside {
			t.Errorf("through the linked root, %q: %q, %v", p, text, err)
		}
	}
	if _, err := readFile(viaLink, root+"/alias/link_out"); kind(err) != kernels.PermissionDenied {
		t.Errorf("through the linked root, link_out: %v", err)
	}
	// Globs list what is in the root, links included (reading one that
	// leads out is refused when it is opened).
	matches, err := rs.Glob(A + "/link_*")
	must(t, err)
	if want := []string{A + "/link_abs", A + "/link_abs_in", A + "/link_etc", A + "/link_in", A + "/link_out"}; !slices.Equal(matches, want) {
		t.Errorf("Glob = %q, want %q", matches, want)
	}
	if m, err := rs.Glob(A + "/nope.txt"); err != nil || m != nil {
		t.Errorf("Glob of a missing file = %q, %v; want no match", m, err)
	}
	if _, err := rs.Stat(A + "/nope.txt"); kind(err) != kernels.NotFound {
		t.Errorf("Stat of a missing file: %v", err)
	}
	if _, err := rs.Glob(A + "/[.txt"); err == nil {
		t.Error("a malformed pattern was accepted")
	}
}

func TestRefusalNamesPathRootsAndFlag(t *testing.T) {
	_, allowed, outside := tree(t)
	other := t.TempDir()
	rs, err := fsroot.Open(allowed, other)
	must(t, err)
	defer rs.Close()
	for _, p := range []string{filepath.Join(outside, "secret.txt"), filepath.Join(allowed, "link_out")} {
		_, err := rs.Open(p)
		if kind(err) != kernels.PermissionDenied {
			t.Fatalf("%s: %v", p, err)
		}
		for _, want := range []string{p, allowed, other, "--allow-path"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("message %q does not name %q", err, want)
			}
		}
	}
	if got := rs.Dirs(); !slices.Equal(got, []string{allowed, other}) {
		t.Errorf("Dirs = %q", got)
	}
}

func TestFileSwappedForALinkAfterTheCheck(t *testing.T) {
	_, allowed, outside := tree(t)
	rs, err := fsroot.Open(allowed)
	must(t, err)
	defer rs.Close()
	p := filepath.Join(allowed, "data.txt")
	if _, err := rs.Stat(p); err != nil {
		t.Fatal(err)
	}
	must(t, os.Remove(p))
	must(t, os.Symlink(filepath.Join(outside, "secret.txt"), p))
	if text, err := readFile(rs, p); kind(err) != kernels.PermissionDenied || leaked([]string{text}) {
		t.Fatalf("after the swap: %q, %v", text, err)
	}
}

func TestNestedRootsUseTheOutermost(t *testing.T) {
	_, allowed, _ := tree(t)
	// sub's own root would refuse ../data.txt through a link; allowed's
	// takes it.
	must(t, os.Symlink("../data.txt", filepath.Join(allowed, "sub", "up")))
	rs, err := fsroot.Open(filepath.Join(allowed, "sub"), allowed)
	must(t, err)
	defer rs.Close()
	if text, err := readFile(rs, filepath.Join(allowed, "sub", "up")); err != nil || text != inside {
		t.Fatalf("got %q, %v", text, err)
	}
}

func TestOpenNeedsExistingDirectories(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	must(t, os.WriteFile(file, nil, 0o644))
	if _, err := fsroot.Open(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("a missing directory: %v", err)
	}
	if _, err := fsroot.Open(file); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("a file: %v", err)
	}
	none, err := fsroot.Open()
	must(t, err)
	if _, err := none.Open(file); kind(err) != kernels.PermissionDenied {
		t.Errorf("no root allows %s: %v", file, err)
	}
	var any *fsroot.Roots // nil: anywhere
	if _, err := any.Open(file); err != nil {
		t.Errorf("the nil Roots refused %s: %v", file, err)
	}
}
