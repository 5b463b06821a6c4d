// Package fsroot confines the files a node reads for its users
// (read_parquet, read_csv, read_ipc) to allowed directories.
//
// Each allowed directory is opened once as an *os.Root and every lookup goes
// through one: the operating system then refuses a ".." that climbs out and
// a symbolic link that points out, at the moment the file is opened. Path
// strings decide only which root to ask; they never decide whether a file
// may be read.
package fsroot

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"slipstream/kernels"
)

// Roots is a set of allowed directories. The nil *Roots allows every path
// (tests that build an engine directly); a node always has one.
type Roots struct {
	dirs []dir
}

type dir struct {
	path string   // absolute, as given
	real string   // path with its symbolic links resolved (often the same)
	root *os.Root // every lookup under path goes through it
}

// Flag names the option that adds a directory, for error messages.
const Flag = "--allow-path"

// Open opens each directory (relative ones are made absolute against the
// working directory) as a root. Each must exist and be a directory.
func Open(paths ...string) (*Roots, error) {
	rs := &Roots{}
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			rs.Close()
			return nil, fmt.Errorf("allowed path %q: %w", p, err)
		}
		if rs.has(abs) {
			continue
		}
		st, err := os.Stat(abs)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			rs.Close()
			return nil, fmt.Errorf("allowed path %s does not exist", abs)
		case err != nil:
			rs.Close()
			return nil, fmt.Errorf("allowed path %s: %w", abs, err)
		case !st.IsDir():
			rs.Close()
			return nil, fmt.Errorf("allowed path %s is not a directory", abs)
		}
		root, err := os.OpenRoot(abs)
		if err != nil {
			rs.Close()
			return nil, fmt.Errorf("allowed path %s: %w", abs, err)
		}
		real, err := filepath.EvalSymlinks(abs)
		if err != nil {
			real = abs
		}
		rs.dirs = append(rs.dirs, dir{path: abs, real: real, root: root})
	}
	return rs, nil
}

func (rs *Roots) has(abs string) bool {
	for _, d := range rs.dirs {
		if d.path == abs {
			return true
		}
	}
	return false
}

// Dirs are the allowed directories, absolute; nil for the nil *Roots.
func (rs *Roots) Dirs() []string {
	if rs == nil {
		return nil
	}
	out := make([]string, len(rs.dirs))
	for i, d := range rs.dirs {
		out[i] = d.path
	}
	return out
}

// String lists the allowed directories, comma-separated.
func (rs *Roots) String() string {
	if rs == nil {
		return "(any)"
	}
	if len(rs.dirs) == 0 {
		return "(none)"
	}
	return strings.Join(rs.Dirs(), ",")
}

// Close closes the roots.
func (rs *Roots) Close() error {
	if rs == nil {
		return nil
	}
	var errs []error
	for _, d := range rs.dirs {
		errs = append(errs, d.root.Close())
	}
	rs.dirs = nil
	return errors.Join(errs...)
}

// Glob returns the absolute paths of the files matching pattern (as
// filepath.Glob would, nil when none), matched inside the root holding it
// (fs.Glob over the root's FS), so a glob never lists outside the roots. A
// match may still be a symbolic link pointing out: opening it is refused.
func (rs *Roots) Glob(pattern string) ([]string, error) {
	if rs == nil {
		return filepath.Glob(pattern)
	}
	d, base, rel, err := rs.locate(pattern)
	if err != nil {
		return nil, err
	}
	if !hasMeta(rel) {
		// A plain path: it matches itself when it exists (a symbolic link
		// counts, as with filepath.Glob; reading it is checked then).
		if _, err := d.root.Lstat(rel); err != nil {
			if escapes(err) {
				return nil, rs.outside(pattern, err)
			}
			return nil, nil
		}
		return []string{filepath.Join(base, rel)}, nil
	}
	matches, err := fs.Glob(d.root.FS(), filepath.ToSlash(rel))
	if err != nil {
		return nil, err
	}
	for i, m := range matches {
		matches[i] = filepath.Join(base, filepath.FromSlash(m))
	}
	return matches, nil
}

// Stat is os.Stat of path, inside the roots.
func (rs *Roots) Stat(path string) (fs.FileInfo, error) {
	if rs == nil {
		return os.Stat(path)
	}
	d, _, rel, err := rs.locate(path)
	if err != nil {
		return nil, err
	}
	st, err := d.root.Stat(rel)
	if err != nil {
		return nil, rs.refuse(path, err)
	}
	return st, nil
}

// ReadDir is os.ReadDir of path (entries sorted by name), inside the roots.
func (rs *Roots) ReadDir(path string) ([]fs.DirEntry, error) {
	if rs == nil {
		return os.ReadDir(path)
	}
	d, _, rel, err := rs.locate(path)
	if err != nil {
		return nil, err
	}
	entries, err := fs.ReadDir(d.root.FS(), filepath.ToSlash(rel))
	if err != nil {
		return nil, rs.refuse(path, err)
	}
	return entries, nil
}

// Open is os.Open of path, inside the roots: a file reached through a
// symbolic link that leaves them is refused when it is opened.
func (rs *Roots) Open(path string) (*os.File, error) {
	if rs == nil {
		return os.Open(path)
	}
	d, _, rel, err := rs.locate(path)
	if err != nil {
		return nil, err
	}
	f, err := d.root.Open(rel)
	if err != nil {
		return nil, rs.refuse(path, err)
	}
	return f, nil
}

// locate picks the root to ask for path: path (made absolute and clean)
// relative to the root's directory, as given or with its links resolved,
// must not start with ".."; failing that, the same with the links of the
// longest existing prefix of path resolved (a path through a link to a
// root: /var/... for /private/var/...). Of several, the outermost. It
// returns the root, the directory form matched and the path inside it.
// The root, not this choice, is what keeps reads inside.
func (rs *Roots) locate(path string) (d *dir, base, rel string, err error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, "", "", kernels.Errorf(kernels.Invalid, "bad path %q: %v", path, err)
	}
	d, base, rel = rs.holder(abs)
	if d == nil {
		if real := resolvePrefix(abs); real != abs {
			d, base, rel = rs.holder(real)
		}
	}
	if d == nil {
		return nil, "", "", rs.outside(path, nil)
	}
	if strings.IndexByte(rel, 0) >= 0 {
		return nil, "", "", kernels.Errorf(kernels.NotFound, "file %q does not exist (a path cannot hold a NUL byte)", path)
	}
	return d, base, rel, nil
}

// holder is the outermost root holding abs lexically, the form of its
// directory that does, and abs relative to it; nil if none.
func (rs *Roots) holder(abs string) (d *dir, base, rel string) {
	for i := range rs.dirs {
		for _, b := range []string{rs.dirs[i].path, rs.dirs[i].real} {
			r, err := filepath.Rel(b, abs)
			if err != nil || !filepath.IsLocal(r) {
				continue
			}
			if d == nil || len(r) > len(rel) {
				d, base, rel = &rs.dirs[i], b, r
			}
		}
	}
	return d, base, rel
}

// resolvePrefix is abs with the symbolic links of its longest existing
// prefix resolved.
func resolvePrefix(abs string) string {
	for dir, rest := abs, ""; ; {
		if real, err := filepath.EvalSymlinks(dir); err == nil {
			return filepath.Join(real, rest)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return abs
		}
		rest = filepath.Join(filepath.Base(dir), rest)
		dir = parent
	}
}

// refuse classifies an error of a root's lookup: leaving the root is
// PermissionDenied; anything else (a missing file) is returned as is.
func (rs *Roots) refuse(path string, err error) error {
	if escapes(err) {
		return rs.outside(path, err)
	}
	return err
}

func (rs *Roots) outside(path string, why error) error {
	how := "is not under"
	if why != nil {
		how = "leads through a symbolic link out of" // absolute links included
	}
	dirs := strings.Join(rs.Dirs(), ", ")
	if dirs == "" {
		dirs = "none"
	}
	return kernels.Errorf(kernels.PermissionDenied,
		"%q %s the directories this server may read and write (%s); paths are on the server; start it with %s DIR to allow another directory",
		path, how, dirs, Flag)
}

// escapes reports whether err is os.Root refusing a path that leaves it
// (a ".." above the root, an absolute path or a symbolic link pointing
// out). os has no exported error for it, so its text is compared.
func escapes(err error) bool {
	var pe *fs.PathError
	return errors.As(err, &pe) && pe.Err != nil && pe.Err.Error() == "path escapes from parent"
}

// hasMeta reports whether path contains a character filepath.Match
// treats specially.
func hasMeta(path string) bool {
	return strings.ContainsAny(path, `*?[\`)
}

// Write creates the file path inside the roots (and its directory) with
// what write writes: to a temporary name in the same directory, synced,
// then renamed into place, so no reader sees half a file. An existing file
// of that name is refused (AlreadyExists).
func (rs *Roots) Write(path string, write func(io.Writer) error) error {
	if rs == nil {
		abs, err := filepath.Abs(path)
		if err != nil {
			return kernels.Errorf(kernels.Invalid, "bad path %q: %v", path, err)
		}
		root, err := os.OpenRoot("/")
		if err != nil {
			return err
		}
		defer root.Close()
		return writeIn(root, path, strings.TrimPrefix(abs, "/"), write)
	}
	d, _, rel, err := rs.locate(path)
	if err != nil {
		return err
	}
	return rs.refuse(path, writeIn(d.root, path, rel, write))
}

func writeIn(root *os.Root, path, rel string, write func(io.Writer) error) error {
	if _, err := root.Lstat(rel); err == nil {
		return kernels.Errorf(kernels.AlreadyExists, "%q exists already; write to a new path (files are never overwritten)", path)
	}
	if dir := filepath.Dir(rel); dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	tmp := filepath.Join(filepath.Dir(rel), "."+filepath.Base(rel)+".tmp")
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	err = write(struct{ io.Writer }{f}) // hides Close: the file is synced and closed here
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = root.Rename(tmp, rel)
	}
	if err != nil {
		root.Remove(tmp)
	}
	return err
}
