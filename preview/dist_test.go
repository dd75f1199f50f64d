package preview

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadDist(t *testing.T) {
	dir := writeApp(t, map[string]string{
		"index.html":               `<html><head><title>x</title><script type="module" src="/p/assets/index-AbCdEf12.js"></script></head><body></body></html>`,
		"assets/index-AbCdEf12.js": "console.log(1)",
		"robots.txt":               "User-agent: *\n",
	})
	p, err := LoadDist(dir, "http://r.test/report")
	if err != nil {
		t.Fatal(err)
	}
	html, _ := p.File("/index.html")
	if !strings.Contains(string(html), `<head>
    <script src="/__stich/reporter.js"></script>`) || !strings.Contains(string(html), `src="/p/assets/index-AbCdEf12.js"`) {
		t.Errorf("index.html: %s", html)
	}
	if js, _ := p.File(ReporterPath); !strings.Contains(string(js), `"http://r.test/report?token=`+p.ReportToken()+`"`) || p.ReportToken() == "" {
		t.Errorf("reporter: %s", js)
	}
	if a, ok := p.Resolve("/assets/index-AbCdEf12.js"); !ok || !a.Immutable {
		t.Errorf("hashed asset: %v %v", ok, a.Immutable)
	}
	if a, ok := p.Resolve("/robots.txt"); !ok || a.Immutable {
		t.Errorf("robots.txt: %v %v", ok, a.Immutable)
	}

	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "passwd.txt")); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadDist(dir, ""); !errors.Is(err, ErrRefused) {
		t.Errorf("a symlink in the build: %v", err)
	}
	empty := t.TempDir()
	if _, err := LoadDist(empty, ""); err == nil {
		t.Error("a build without index.html loaded")
	}
}
