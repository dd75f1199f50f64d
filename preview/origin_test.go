package preview

import (
	"errors"
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
