package sandbox

import (
	"strings"
	"testing"
)

// A dependency set is shared by apps that differ only in name and
// version; any other difference, a package without an integrity hash, a
// link or no lockfile means no sharing.
func TestModulesKey(t *testing.T) {
	lock := func(name, react, integrity string) string {
		return `{"name":"` + name + `","version":"0.1.0","lockfileVersion":3,"packages":{` +
			`"":{"name":"` + name + `","version":"0.1.0","dependencies":{"react":"` + react + `"}},` +
			`"node_modules/react":{"version":"` + react + `","resolved":"https://registry.npmjs.org/react/-/react-` + react + `.tgz"` + integrity + `}}}`
	}
	const ok = `,"integrity":"sha512-abc"`
	pkg := func(name, react string) string {
		return `{"name":"` + name + `","version":"0.1.0","dependencies":{"react":"` + react + `"}}`
	}
	a := modulesKey([]byte(pkg("a", "19.3.1")), []byte(lock("a", "19.3.1", ok)))
	b := modulesKey([]byte(pkg("b", "19.3.1")), []byte(lock("b", "19.3.1", ok)))
	if a == "" || a != b {
		t.Fatalf("apps differing only by name: keys %q and %q", a, b)
	}
	for name, key := range map[string]string{
		"another version":    modulesKey([]byte(pkg("a", "19.3.0")), []byte(lock("a", "19.3.0", ok))),
		"package.json range": modulesKey([]byte(pkg("a", "^19.3.1")), []byte(lock("a", "19.3.1", ok))),
	} {
		if key == "" || key == a {
			t.Errorf("%s: key %q (same set's %q)", name, key, a)
		}
	}
	for name, key := range map[string]string{
		"no lockfile":    modulesKey([]byte(pkg("a", "19.3.1")), nil),
		"no integrity":   modulesKey([]byte(pkg("a", "19.3.1")), []byte(lock("a", "19.3.1", ""))),
		"a link":         modulesKey([]byte(pkg("a", "19.3.1")), []byte(strings.Replace(lock("a", "19.3.1", ok), `"version":"19.3.1",`, `"link":true,`, 1))),
		"bad json":       modulesKey([]byte(pkg("a", "19.3.1")), []byte("{")),
		"no packages":    modulesKey([]byte(pkg("a", "19.3.1")), []byte(`{"name":"a"}`)),
		"sha1 integrity": modulesKey([]byte(pkg("a", "19.3.1")), []byte(lock("a", "19.3.1", `,"integrity":"sha1-abc"`))),
	} {
		if key != "" {
			t.Errorf("%s: key %q, want none", name, key)
		}
	}
}
