package preview

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// DefaultDomain is the preview domain of a node with no --preview-domain:
// browsers resolve every *.localhost name to loopback, so each app gets an
// origin of its own with no DNS setup.
const DefaultDomain = "preview.localhost"

// Origins maps apps (sessions) to preview origins and back. Each session
// is served at https?://LABEL.DOMAIN[:PORT]/, where LABEL is the session id
// with its region dot written as "--" (one DNS label, so a wildcard
// certificate for *.DOMAIN covers every app). Distinct apps therefore have
// distinct origins, and — DOMAIN being a name apart from the API's host —
// distinct sites from the API and UI: an app cannot read another app's
// storage or cookies, nor send the user's stich cookies with its requests.
//
// The zero value is disabled (no previews announced).
type Origins struct {
	// Scheme is "http" or "https".
	Scheme string
	// Domain is the parent of every app's host name, lowercase, e.g.
	// "preview.localhost" or "preview.example.com" (wildcard DNS).
	Domain string
	// Port is the port browsers use ("" for the scheme's default).
	Port string
}

// ErrOrigin: a preview origin setting that cannot work.
var ErrOrigin = errors.New("preview: bad preview origin")

var domainPattern = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// ParseOrigins reads a preview base such as "http://preview.localhost:8081"
// or "https://preview.example.com": a scheme, a domain and an optional
// port, nothing else.
func ParseOrigins(base string) (Origins, error) {
	u, err := url.Parse(base)
	if err != nil {
		return Origins{}, fmt.Errorf("%w: %q: %v", ErrOrigin, base, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return Origins{}, fmt.Errorf("%w: %q: want scheme://domain[:port], such as https://preview.example.com", ErrOrigin, base)
	}
	o := Origins{Scheme: u.Scheme, Domain: strings.ToLower(u.Hostname()), Port: u.Port()}
	return o, o.Validate()
}

// Validate reports whether o can name app origins.
func (o Origins) Validate() error {
	if o.Scheme != "http" && o.Scheme != "https" {
		return fmt.Errorf("%w: scheme %q", ErrOrigin, o.Scheme)
	}
	if !domainPattern.MatchString(o.Domain) || len(o.Domain) > 200 {
		return fmt.Errorf("%w: %q is not a domain name", ErrOrigin, o.Domain)
	}
	if !strings.Contains(o.Domain, ".") && o.Domain != "localhost" {
		// One label: apps would be LABEL.com-like siblings of other sites.
		return fmt.Errorf("%w: %q is a top-level domain", ErrOrigin, o.Domain)
	}
	if o.Port != "" {
		var n int
		if _, err := fmt.Sscanf(o.Port, "%d", &n); err != nil || n <= 0 || n > 65535 || fmt.Sprint(n) != o.Port {
			return fmt.Errorf("%w: port %q", ErrOrigin, o.Port)
		}
	}
	return nil
}

// Enabled reports whether o names origins (the zero value does not).
func (o Origins) Enabled() bool { return o.Domain != "" }

// hostPort returns host with o's port.
func (o Origins) hostPort(host string) string {
	if o.Port == "" {
		return host
	}
	return net.JoinHostPort(host, o.Port)
}

// Label returns the host label of session ("" when session cannot be one:
// ids made by stich always can).
func Label(session string) string {
	id, _, _ := strings.Cut(session, ".")
	l := strings.Replace(session, ".", "--", 1)
	// NB: the id part never holds "--", so the first "--" of a label is
	// the region's dot (a region may hold "--" itself).
	if len(l) > 63 || strings.Contains(l, ".") || !domainPattern.MatchString(l) || strings.Contains(id, "--") {
		return ""
	}
	return l
}

// sessionOf reverses [Label].
func sessionOf(label string) string {
	return strings.Replace(label, "--", ".", 1)
}

// Origin returns session's preview origin, without a trailing slash
// ("" when o is disabled or session cannot be a host label).
func (o Origins) Origin(session string) string {
	l := Label(session)
	if !o.Enabled() || l == "" {
		return ""
	}
	return o.Scheme + "://" + o.hostPort(l+"."+o.Domain)
}

// URL returns session's preview URL ("" as for Origin).
func (o Origins) URL(session string) string {
	if s := o.Origin(session); s != "" {
		return s + "/"
	}
	return ""
}

// Session returns the session a request's Host names, and false when the
// host is not one app's preview host of o. The port is not compared: a
// proxy in front may change it. A version's host ([Origins.VersionOrigin])
// is not a session's: see [Origins.App].
func (o Origins) Session(host string) (string, bool) {
	id, v, ok := o.App(host)
	if !ok || v != 0 {
		return "", false
	}
	return id, true
}

// App returns the session and version a request's Host names: version 0
// for the session's current preview ([Origins.Origin]), N for its
// version N's ([Origins.VersionOrigin]); false when the host is not one of
// o's app hosts. The session is not checked further (callers match it
// against their id pattern).
func (o Origins) App(host string) (session string, version uint32, ok bool) {
	if !o.Enabled() {
		return "", 0, false
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	label, ok := strings.CutSuffix(host, "."+o.Domain)
	if !ok || label == "" || strings.Contains(label, ".") {
		return "", 0, false
	}
	if v, rest, ok := cutVersion(label); ok {
		return sessionOf(rest), v, true
	}
	return sessionOf(label), 0, true
}

// versionLabelPrefix starts a version's host label: "v7-" + the session's
// [Label]. NB: a session's own label never starts with "v" followed by a
// digit (stich's ids start with "s-"), so the two kinds never meet.
const versionLabelPrefix = "v"

// cutVersion splits a version's label "vN-REST" into N (1 or more, no
// leading zero) and REST.
func cutVersion(label string) (uint32, string, bool) {
	num, rest, ok := strings.Cut(strings.TrimPrefix(label, versionLabelPrefix), "-")
	if !ok || !strings.HasPrefix(label, versionLabelPrefix) || num == "" || num[0] < '1' || num[0] > '9' || rest == "" {
		return 0, "", false
	}
	n, err := strconv.ParseUint(num, 10, 32)
	if err != nil {
		return 0, "", false
	}
	return uint32(n), rest, true
}

// VersionLabel returns the host label of session's version v ("" when
// there is none: v is 0, or the label would be too long).
func VersionLabel(session string, v uint32) string {
	l := Label(session)
	if l == "" || v == 0 {
		return ""
	}
	vl := versionLabelPrefix + strconv.FormatUint(uint64(v), 10) + "-" + l
	if len(vl) > 63 {
		return ""
	}
	return vl
}

// VersionOrigin returns the origin of session's version v: an origin of
// its own (a version's build never shares its storage, cookies or cache
// with the current one's), without a trailing slash ("" as for
// [Origins.Origin], or when v is 0).
func (o Origins) VersionOrigin(session string, v uint32) string {
	l := VersionLabel(session, v)
	if !o.Enabled() || l == "" {
		return ""
	}
	return o.Scheme + "://" + o.hostPort(l+"."+o.Domain)
}

// VersionScope names session's version v where one id must say both: the
// [Pass] of a version's preview (a pass for the session's current
// preview is not one for its versions, nor the other way round) and the
// version build's workspace. "_" is in no session id.
func VersionScope(session string, v uint32) string {
	if v == 0 {
		return session
	}
	return session + "_v" + strconv.FormatUint(uint64(v), 10)
}

// ScopeSession reverses [VersionScope].
func ScopeSession(scope string) (session string, v uint32) {
	i := strings.LastIndex(scope, "_v")
	if i < 0 {
		return scope, 0
	}
	n, err := strconv.ParseUint(scope[i+2:], 10, 32)
	if err != nil || n == 0 {
		return scope, 0
	}
	return scope[:i], uint32(n)
}

// UnderDomain reports whether host is a name below o's domain (an app's
// host, or a malformed one such as a.b.DOMAIN).
func (o Origins) UnderDomain(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return o.Enabled() && strings.HasSuffix(strings.TrimSuffix(strings.ToLower(host), "."), "."+o.Domain)
}

// FrameSource is the CSP source matching every app's origin, for the
// UI's frame-src: "http://*.preview.localhost:8081".
func (o Origins) FrameSource() string {
	if !o.Enabled() {
		return ""
	}
	return o.Scheme + "://" + o.hostPort("*."+o.Domain)
}

// SameSite reports whether host (the API's or UI's host name) is the same
// site as o's app hosts, by the public suffix list: cookies and storage
// partitioning would then not keep apps from the API. An IP address is a
// site of its own.
func (o Origins) SameSite(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if !o.Enabled() || host == "" {
		return false
	}
	return site(host) == site("x."+o.Domain)
}

// site returns the registrable domain of host (host itself for an IP or
// a public suffix).
func site(host string) string {
	if net.ParseIP(host) != nil {
		return host
	}
	s, err := publicsuffix.EffectiveTLDPlusOne(host)
	if err != nil {
		return host
	}
	return s
}
