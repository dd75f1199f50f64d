package sandbox

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// The prepared-modules store: a node_modules that "npm ci" made from a
// lockfile is kept (a root-owned copy under Root/.modules/KEY, which no
// sandbox can see), and a later install of the same dependency set in
// another workspace copies it instead of running npm. Every scaffold app
// has one pinned set, so after the node's first install a new app's
// dependencies take a file copy, not an npm run.
//
// KEY is the SHA-256 of the lockfile without the fields that name the app
// (its name and version), and of package.json's dependency fields: two
// apps share a set only when npm would install exactly the same packages.
// A set is kept only when every package in the lockfile has an integrity
// hash (npm ci verified each tarball against it), and it is copied right
// after npm exits, while the workspace runs nothing else.

// modulesDir is the store's folder under Root (a dot name: never a
// workspace id).
const modulesDir = ".modules"

// modulesKey returns the store key of a dependency set, or "" when it
// cannot be shared (no lockfile, a package without an integrity hash,
// unreadable JSON).
func modulesKey(pkg, lock []byte) string {
	if lock == nil {
		return ""
	}
	var l map[string]any
	if err := json.Unmarshal(lock, &l); err != nil {
		return ""
	}
	delete(l, "name")
	delete(l, "version")
	pkgs, _ := l["packages"].(map[string]any)
	if len(pkgs) == 0 {
		return ""
	}
	for k, v := range pkgs {
		e, _ := v.(map[string]any)
		if e == nil {
			return ""
		}
		if k == "" {
			delete(e, "name")
			delete(e, "version")
			continue
		}
		if link, _ := e["link"].(bool); link {
			return ""
		}
		if s, _ := e["integrity"].(string); !strings.HasPrefix(s, "sha512-") {
			return ""
		}
	}
	var p map[string]json.RawMessage
	if err := json.Unmarshal(pkg, &p); err != nil {
		return ""
	}
	deps := map[string]json.RawMessage{}
	for _, f := range []string{"dependencies", "devDependencies", "optionalDependencies", "peerDependencies", "overrides"} {
		if raw, ok := p[f]; ok {
			deps[f] = raw
		}
	}
	b, err := json.Marshal(map[string]any{"lock": l, "package": deps}) // map keys are sorted
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// modulesStore guards the store's folders: one save per key at a time.
type modulesStore struct {
	mu     sync.Mutex
	saving map[string]bool
}

func (l *Local) modulesPath(key string) string {
	return filepath.Join(l.cfg.Root, modulesDir, key)
}

// restoreModules copies the prepared set key into w's node_modules (owned
// by w's uid), replacing what is there. It reports false when the store
// has no complete set for key.
func (l *Local) restoreModules(w *workspace, key string) (bool, error) {
	src := filepath.Join(l.modulesPath(key), "node_modules")
	if _, err := os.Stat(filepath.Join(l.modulesPath(key), "complete")); err != nil {
		return false, nil
	}
	dst, err := os.OpenRoot(w.dir)
	if err != nil {
		return false, fmt.Errorf("%w: %s: %v", ErrNoWorkspace, w.id, err)
	}
	defer dst.Close()
	if err := dst.RemoveAll("node_modules"); err != nil {
		return false, fmt.Errorf("sandbox: remove node_modules: %w", err)
	}
	uid, gid := w.uid, l.gid
	own := func(name string) error {
		if !l.switchCred || uid == -1 {
			return nil
		}
		return dst.Lchown(name, uid, gid)
	}
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(filepath.Dir(src), p)
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if err := dst.Mkdir(rel, 0o755); err != nil {
				return err
			}
			return own(rel)
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if err := dst.Symlink(target, rel); err != nil {
				return err
			}
			return own(rel)
		case d.Type().IsRegular():
			fi, err := d.Info()
			if err != nil {
				return err
			}
			if err := copyInto(dst, rel, p, fi.Mode().Perm()); err != nil {
				return err
			}
			return own(rel)
		}
		return nil // nothing else is saved
	})
	if err != nil {
		_ = dst.RemoveAll("node_modules")
		return false, fmt.Errorf("sandbox: restore the prepared node_modules: %w", err)
	}
	return true, nil
}

// copyInto copies host file src to rel under root, with mode perm.
func copyInto(root *os.Root, rel, src string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := root.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// saveModules keeps w's node_modules, which npm ci just made for key, as
// the prepared set (unless one is kept already or being saved). Failures
// only cost the next install its shortcut: they are logged.
func (l *Local) saveModules(w *workspace, key string) {
	l.modules.mu.Lock()
	if l.modules.saving == nil {
		l.modules.saving = map[string]bool{}
	}
	if l.modules.saving[key] {
		l.modules.mu.Unlock()
		return
	}
	l.modules.saving[key] = true
	l.modules.mu.Unlock()
	defer func() {
		l.modules.mu.Lock()
		delete(l.modules.saving, key)
		l.modules.mu.Unlock()
	}()
	dir := l.modulesPath(key)
	if _, err := os.Stat(filepath.Join(dir, "complete")); err == nil {
		return
	}
	if err := l.copyModules(w, dir); err != nil {
		l.log.Warn("sandbox: could not keep the installed node_modules for other apps", "err", err)
		_ = os.RemoveAll(dir)
	}
}

// copyModules copies w's node_modules to dir/node_modules (root-owned,
// not writable by the sandbox uids) and marks it complete.
func (l *Local) copyModules(w *workspace, dir string) error {
	if err := os.MkdirAll(filepath.Join(l.cfg.Root, modulesDir), 0o700); err != nil {
		return err
	}
	_ = os.RemoveAll(dir) // an incomplete set from before
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	src, err := os.OpenRoot(w.dir)
	if err != nil {
		return err
	}
	defer src.Close()
	fsys := src.FS()
	if fi, err := src.Lstat("node_modules"); err != nil || !fi.IsDir() {
		return errors.New("no node_modules folder after the install")
	}
	n := 0
	err = fs.WalkDir(fsys, "node_modules", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if n++; n > maxModuleFiles {
			return fmt.Errorf("more than %d entries", maxModuleFiles)
		}
		out := filepath.Join(dir, filepath.FromSlash(p))
		switch {
		case d.IsDir():
			return os.Mkdir(out, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			target, err := src.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, out)
		case d.Type().IsRegular():
			fi, err := d.Info()
			if err != nil {
				return err
			}
			in, err := src.Open(p)
			if err != nil {
				return err
			}
			defer in.Close()
			f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fi.Mode().Perm()&0o755)
			if err != nil {
				return err
			}
			if _, err := io.Copy(f, in); err != nil {
				f.Close()
				return err
			}
			return f.Close()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "complete"), nil, 0o600)
}

// maxModuleFiles bounds the entries of a kept node_modules.
const maxModuleFiles = 100_000
