package pkgdoc

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEveryPackageHasDoc fails when a hand-written package lacks a package
// doc comment (generated protobuf code and third_party are exempt).
func TestEveryPackageHasDoc(t *testing.T) {
	root := filepath.Join("..", "..")
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		switch {
		case rel == "third_party" || (rel != "." && strings.HasPrefix(d.Name(), ".")) || d.Name() == "node_modules" || d.Name() == "testdata" ||
			strings.HasPrefix(rel, filepath.Join("web", "src")) || strings.HasPrefix(rel, filepath.Join("web", "dist")):
			return filepath.SkipDir
		case strings.HasPrefix(rel, "proto"):
			return nil
		}
		pkgs, err := parser.ParseDir(token.NewFileSet(), path, func(fi os.FileInfo) bool {
			return !strings.HasSuffix(fi.Name(), "_test.go")
		}, parser.ParseComments|parser.PackageClauseOnly)
		if err != nil {
			return err
		}
		for name, pkg := range pkgs {
			checked++
			hasDoc := false
			for _, f := range pkg.Files {
				if f.Doc != nil && strings.TrimSpace(f.Doc.Text()) != "" {
					hasDoc = true
				}
			}
			if !hasDoc {
				t.Errorf("package %s (%s) has no doc comment", name, rel)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 8 {
		t.Fatalf("checked only %d packages; is the walk rooted right?", checked)
	}
}
