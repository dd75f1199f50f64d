package preview

import (
	"errors"
	"net/url"
	"testing"
)

func TestOrigins(t *testing.T) {
	o, err := ParseOrigins("http://preview.localhost:8081")
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{
		"s-abcdefghijklmnopqrst":         "http://s-abcdefghijklmnopqrst.preview.localhost:8081",
		"s-abcdefghijklmnopqrst.eu-west": "http://s-abcdefghijklmnopqrst--eu-west.preview.localhost:8081",
		"s-abcdefghijklmnopqrst.a--b":    "http://s-abcdefghijklmnopqrst--a--b.preview.localhost:8081",
		"s-abcdefgh.x.y":                 "", // two dots: not one label
		"s-ab--cdefgh":                   "", // would read back as another id
		"S-UPPER":                        "",
		"../etc":                         "",
	} {
		if got := o.Origin(id); got != want {
			t.Errorf("Origin(%q) = %q, want %q", id, got, want)
		}
		if want == "" {
			continue
		}
		host := want[len("http://"):]
		if got, ok := o.Session(host); !ok || got != id {
			t.Errorf("Session(%q) = %q %v, want %q", host, got, ok, id)
		}
	}
	for _, host := range []string{"preview.localhost:8081", "127.0.0.1:8081", "a.b.preview.localhost", "x.preview.localhost.evil.test", "xpreview.localhost", ".preview.localhost"} {
		if id, ok := o.Session(host); ok {
			t.Errorf("Session(%q) = %q: not an app host", host, id)
		}
	}
	if id, ok := o.Session("S-ABC.Preview.Localhost."); !ok || id != "s-abc" {
		t.Errorf("host names are case-insensitive: %q %v", id, ok)
	}
	if fs := o.FrameSource(); fs != "http://*.preview.localhost:8081" {
		t.Errorf("FrameSource %q", fs)
	}
	if (Origins{}).Origin("s-abcdefgh") != "" || (Origins{}).FrameSource() != "" {
		t.Error("the zero Origins names origins")
	}
	for _, bad := range []string{"ftp://preview.localhost", "http://preview.localhost/x", "http://com", "http://a_b.example", "http://preview.localhost:0", "http://u@preview.localhost", "preview.localhost"} {
		if _, err := ParseOrigins(bad); !errors.Is(err, ErrOrigin) {
			t.Errorf("ParseOrigins(%q): %v", bad, err)
		}
	}
}

func TestOriginsSameSite(t *testing.T) {
	local := Origins{Scheme: "http", Domain: "preview.localhost", Port: "8081"}
	remote := Origins{Scheme: "https", Domain: "preview.stich.example.com"}
	apart := Origins{Scheme: "https", Domain: "stich-apps.example.net"}
	for _, c := range []struct {
		o    Origins
		host string
		same bool
	}{
		{local, "127.0.0.1:8080", false},
		{local, "localhost:8080", false},
		{local, "[::1]:8080", false},
		{local, "other.preview.localhost", true},
		{remote, "stich.example.com", true},
		{remote, "example.com", true},
		{apart, "stich.example.com", false},
		{Origins{Scheme: "https", Domain: "apps.github.io"}, "stich.github.io", false}, // github.io is a public suffix
	} {
		if got := c.o.SameSite(c.host); got != c.same {
			t.Errorf("%s vs %s: same site %v, want %v", c.o.Domain, c.host, got, c.same)
		}
	}
}

// A version's origin is its own host ("vN-" + the app's label), read back
// as (session, N); the app's own host reads back as version 0; labels that
// only look like a version's are not one.
func TestVersionOrigins(t *testing.T) {
	o := Origins{Scheme: "http", Domain: DefaultDomain, Port: "8081"}
	for _, id := range []string{"s-abcdefgh12", "s-abcdefgh12.eu-west"} {
		for _, v := range []uint32{1, 7, 4294967295} {
			origin := o.VersionOrigin(id, v)
			if origin == "" || origin == o.Origin(id) {
				t.Fatalf("%s v%d: origin %q", id, v, origin)
			}
			u, err := url.Parse(origin)
			if err != nil {
				t.Fatal(err)
			}
			if s, n, ok := o.App(u.Host); !ok || s != id || n != v {
				t.Errorf("%s: App = %q, %d, %v; want %q, %d", u.Host, s, n, ok, id, v)
			}
			if _, ok := o.Session(u.Host); ok {
				t.Errorf("%s is read as a session's own host", u.Host)
			}
			if s, n := ScopeSession(VersionScope(id, v)); s != id || n != v {
				t.Errorf("scope of %s v%d reads back as %q v%d", id, v, s, n)
			}
		}
		u, _ := url.Parse(o.Origin(id))
		if s, n, ok := o.App(u.Host); !ok || s != id || n != 0 {
			t.Errorf("%s: App = %q, %d, %v", u.Host, s, n, ok)
		}
		if VersionScope(id, 0) != id || o.VersionOrigin(id, 0) != "" {
			t.Errorf("version 0 of %s has a scope or origin of its own", id)
		}
	}
	for _, host := range []string{"v0-s-abcdefgh12.preview.localhost", "v01-s-abcdefgh12.preview.localhost", "v-s-abcdefgh12.preview.localhost", "vx-s-abcdefgh12.preview.localhost", "v1-.preview.localhost", "v99999999999-s-abcdefgh12.preview.localhost"} {
		if s, n, ok := o.App(host); ok && n != 0 {
			t.Errorf("%s: read as version %d of %q", host, n, s)
		}
	}
}
