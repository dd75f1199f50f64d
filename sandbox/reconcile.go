package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
)

// Kept names the top-level entries of a workspace that installs make and
// [Local.Reconcile] keeps: the installed packages and npm's lockfile.
var Kept = []string{"node_modules", "package-lock.json"}

// ReconcileResult says what [Local.Reconcile] changed.
type ReconcileResult struct {
	// Written and Removed list the paths written and removed.
	Written, Removed []string
	// ModulesRemoved reports that node_modules held a link leaving the
	// workspace (something the app ran planted it) and was deleted: the
	// dependencies must be installed again.
	ModulesRemoved bool
}

// Reconcile makes workspace id hold exactly files (app-relative paths)
// plus the [Kept] entries installs made: every other file, folder and
// symlink — whatever an earlier build or the app's own scripts left — is
// removed, every file whose content differs is written again, and a
// node_modules holding a symlink that leads out of the workspace is
// deleted whole. Nothing is followed through a symlink. Call it when no
// command runs in the workspace.
func (l *Local) Reconcile(ctx context.Context, id string, files map[string]string) (ReconcileResult, error) {
	var res ReconcileResult
	w, err := l.get(id)
	if err != nil {
		return res, err
	}
	want := make(map[string]string, len(files))
	dirs := map[string]bool{}
	for p, c := range files {
		cp, err := cleanRel(p, false)
		if err != nil {
			return res, err
		}
		want[cp] = c
		for d := path.Dir(cp); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	kept := map[string]bool{}
	for _, k := range Kept {
		if _, ok := want[k]; !ok {
			kept[k] = true
		}
	}
	if l.bwrap == "" {
		kept[".home"] = true // unsafe mode's HOME
	}
	root, err := os.OpenRoot(w.dir)
	if err != nil {
		return res, fmt.Errorf("%w: %s: %v", ErrNoWorkspace, id, err)
	}
	defer root.Close()

	same := map[string]bool{}
	var remove []string
	err = fs.WalkDir(root.FS(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if name == "." {
			return nil
		}
		if kept[name] {
			if name == "node_modules" {
				if !d.IsDir() || d.Type()&fs.ModeSymlink != 0 {
					remove = append(remove, name)
					res.ModulesRemoved = true
				} else if escapes, err := linksOut(root, name); err != nil || escapes {
					remove = append(remove, name)
					res.ModulesRemoved = true
				}
				return fs.SkipDir
			}
			if d.Type().IsRegular() || d.IsDir() && name == ".home" {
				return skipIfDir(d)
			}
			remove = append(remove, name)
			return skipIfDir(d)
		}
		switch {
		case d.IsDir() && dirs[name]:
			return nil
		case d.Type().IsRegular():
			if c, ok := want[name]; ok {
				if b, err := readLimited(root, name); err == nil && bytes.Equal(b, []byte(c)) {
					same[name] = true
				}
				return nil
			}
		}
		remove = append(remove, name)
		return skipIfDir(d)
	})
	if err != nil {
		return res, fmt.Errorf("sandbox: reconcile %s: %w", id, err)
	}
	for _, p := range remove {
		if err := root.RemoveAll(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return res, pathErr(p, err)
		}
	}
	res.Removed = remove
	paths := make([]string, 0, len(want))
	for p := range want {
		if !same[p] {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if err := l.writeOne(root, w.uid, p, want[p]); err != nil {
			return res, err
		}
	}
	res.Written = paths
	return res, nil
}

func skipIfDir(d fs.DirEntry) error {
	if d.IsDir() {
		return fs.SkipDir
	}
	return nil
}

// maxModuleEntries bounds the node_modules walk of [linksOut]; a larger
// tree counts as escaping (it is reinstalled).
const maxModuleEntries = 300_000

// linksOut reports whether the tree at dir holds a symlink whose target
// leaves the workspace (absolute, or climbing above the root). npm's own
// links (node_modules/.bin) are relative and stay inside.
func linksOut(root *os.Root, dir string) (bool, error) {
	n := 0
	escapes := false
	err := fs.WalkDir(root.FS(), dir, func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if n++; n > maxModuleEntries {
			escapes = true
			return fs.SkipAll
		}
		if d.Type()&fs.ModeSymlink == 0 {
			return nil
		}
		target, err := root.Readlink(name)
		if err != nil {
			return err
		}
		if path.IsAbs(target) || strings.HasPrefix(path.Clean(path.Join(path.Dir(name), target)), "../") || path.Clean(path.Join(path.Dir(name), target)) == ".." {
			escapes = true
			return fs.SkipAll
		}
		return nil
	})
	return escapes, err
}
