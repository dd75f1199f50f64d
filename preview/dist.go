package preview

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"regexp"
	"strings"
	"time"
)

// Limits on a built folder LoadDist reads.
const (
	maxDistFiles = 2000
	maxDist      = 128 << 20
)

// hashedName matches the content-hashed file names bundlers emit
// ("index-BjK3x9aQ.js"), which may be cached for good.
var hashedName = regexp.MustCompile(`[-.][A-Za-z0-9_-]{8,}\.[a-z0-9]+$`)

// LoadDist reads an app built by its own bundler (the output folder of
// "vite build", with the preview's base already in its URLs) into a
// Preview, and puts the error reporter first in its index.html. Only
// regular files are read: a symlink in the folder is refused with
// [ErrRefused].
func LoadDist(dir, reportURL string) (*Preview, error) {
	start := time.Now()
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("preview: %w", err)
	}
	defer root.Close()
	p := &Preview{files: map[string]asset{}}
	total := 0
	err = fs.WalkDir(root.FS(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%w: %s is not a regular file", ErrRefused, name)
		}
		if len(p.files) >= maxDistFiles {
			return fmt.Errorf("preview: the build has more than %d files", maxDistFiles)
		}
		body, err := readRooted(root, name, maxDist-int64(total))
		if err != nil {
			return err
		}
		total += len(body)
		url := "/" + name
		if url == "/index.html" {
			if reportURL != "" {
				body = []byte(injectHead(string(body), reporterTag("/")))
			}
			p.add(url, body, false)
			return nil
		}
		p.add(url, body, strings.HasPrefix(url, "/assets/") && hashedName.MatchString(path.Base(url)))
		return nil
	})
	if err != nil {
		return nil, err
	}
	if _, ok := p.files["/index.html"]; !ok {
		return nil, errors.New("preview: the build has no index.html")
	}
	if reportURL != "" {
		p.addReporter(reportURL)
	}
	p.Built, p.Took = time.Now(), time.Since(start)
	return p, nil
}

// injectHead inserts tags at the start of <head> (or makes one).
func injectHead(html, tags string) string {
	if loc := headOpen.FindStringIndex(html); loc != nil {
		return html[:loc[1]] + tags + html[loc[1]:]
	}
	return "<head>" + tags + "</head>\n" + html
}
