package preview

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"
)

// reporterJS is served at [ReporterPath] of every preview and loaded first
// in its <head> (a file, not an inline script: the preview's CSP allows
// only scripts of its own origin). It reports uncaught errors, failed
// resource loads, unhandled promise rejections and console.error calls to
// ENDPOINT as a JSON body sent with text/plain (a "simple" request: no
// preflight, the page never waits for or reads the answer). ENDPOINT
// carries the build's report token. It sends at most 50 reports per page
// load.
const reporterJS = `(() => {
  const endpoint = ENDPOINT;
  let sent = 0;
  const text = (v) => {
    if (v instanceof Error) return v.stack || v.message;
    if (typeof v === "string") return v;
    try { return JSON.stringify(v); } catch { return String(v); }
  };
  const send = (kind, message, stack, source, line, column) => {
    if (sent >= 50) return;
    sent++;
    const body = JSON.stringify({
      kind, message: String(message).slice(0, 4000), stack: String(stack || "").slice(0, 8000),
      source: String(source || "").slice(0, 500), line: line || 0, column: column || 0,
      url: location.href.slice(0, 500),
    });
    try {
      fetch(endpoint, { method: "POST", mode: "no-cors", keepalive: true, headers: { "Content-Type": "text/plain" }, body });
    } catch {}
  };
  addEventListener("error", (e) => {
    if (e.target && e.target !== window && (e.target.src || e.target.href)) {
      send("resource", "failed to load " + (e.target.src || e.target.href), "", "", 0, 0);
    } else {
      send("error", e.message || text(e.error), e.error && e.error.stack, e.filename, e.lineno, e.colno);
    }
  }, true);
  addEventListener("unhandledrejection", (e) => {
    const r = e.reason;
    send("unhandledrejection", r && r.message ? r.message : text(r), r && r.stack, "", 0, 0);
  });
  const original = console.error;
  console.error = function (...args) {
    try { send("console.error", args.map(text).join(" "), new Error().stack, "", 0, 0); } catch {}
    return original.apply(this, args);
  };
})();`

// ReporterPath is where a preview serves its error reporter script.
const ReporterPath = "/__stich/reporter.js"

// ReportPath is the report endpoint on a preview's own origin.
const ReportPath = "/__stich/report"

// reporterTag loads the reporter of a preview served under base; it goes
// first in <head>.
func reporterTag(base string) string {
	return "\n    <script src=\"" + base + ReporterPath[1:] + "\"></script>"
}

// reporterScript returns the reporter posting to endpoint with token.
func reporterScript(endpoint, token string) string {
	if token != "" {
		sep := "?"
		if strings.Contains(endpoint, "?") {
			sep = "&"
		}
		endpoint += sep + "token=" + token
	}
	q, _ := json.Marshal(endpoint) // escapes <, > and & as \u003c...
	return strings.Replace(reporterJS, "ENDPOINT", string(q), 1)
}

// newReportToken returns a fresh random token for one build's reports.
func newReportToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// addReporter gives p a fresh report token and serves the reporter
// posting to reportURL with it.
func (p *Preview) addReporter(reportURL string) {
	p.reportToken = newReportToken()
	p.add(ReporterPath, []byte(reporterScript(reportURL, p.reportToken)), false)
}

// ReportToken returns the token this build's reporter sends ("" when the
// build has no reporter).
func (p *Preview) ReportToken() string { return p.reportToken }

// CheckReportToken reports whether token is this build's report token, in
// constant time.
func (p *Preview) CheckReportToken(token string) bool {
	return p.reportToken != "" && subtle.ConstantTimeCompare([]byte(token), []byte(p.reportToken)) == 1
}

// Report is one error a preview sent.
type Report struct {
	// Kind is "error", "resource", "unhandledrejection" or
	// "console.error".
	Kind    string `json:"kind"`
	Message string `json:"message"`
	Stack   string `json:"stack,omitempty"`
	Source  string `json:"source,omitempty"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	URL     string `json:"url,omitempty"`
}

// MaxReportBytes bounds one report's body (the reporter sends at most
// about 13 KB).
const MaxReportBytes = 16 << 10

// ErrReport: a report body that is not one.
var ErrReport = errors.New("preview: malformed report")

// DecodeReport reads one report. The body comes from the app running in a
// browser: anything may arrive, so sizes, the kind and UTF-8 are checked.
func DecodeReport(r io.Reader) (Report, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxReportBytes+1))
	if err != nil {
		return Report{}, fmt.Errorf("%w: %v", ErrReport, err)
	}
	if len(b) > MaxReportBytes {
		return Report{}, fmt.Errorf("%w: larger than %d bytes", ErrReport, MaxReportBytes)
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return Report{}, fmt.Errorf("%w: %v", ErrReport, err)
	}
	switch rep.Kind {
	case "error", "resource", "unhandledrejection", "console.error":
	default:
		return Report{}, fmt.Errorf("%w: kind %q", ErrReport, rep.Kind)
	}
	for _, s := range []*string{&rep.Message, &rep.Stack, &rep.Source, &rep.URL} {
		*s = strings.ToValidUTF8(*s, "\uFFFD")
		if len(*s) > 8000 {
			*s = truncateUTF8(*s, 8000)
		}
	}
	if rep.Line < 0 || rep.Column < 0 {
		rep.Line, rep.Column = 0, 0
	}
	return rep, nil
}

func truncateUTF8(s string, n int) string {
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// ReportHandler accepts reports POSTed by previews and passes each to fn.
// fn may be called concurrently and should not block for long. Mount it
// on the API origin; it answers CORS preflights so a preview on its own
// origin may also send application/json.
func ReportHandler(fn func(Report)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		switch r.Method {
		case http.MethodOptions:
			w.Header().Set("Access-Control-Allow-Methods", "POST")
			w.Header().Set("Access-Control-Allow-Headers", "Content-Type")
			w.WriteHeader(http.StatusNoContent)
			return
		case http.MethodPost:
		default:
			w.Header().Set("Allow", "POST, OPTIONS")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		rep, err := DecodeReport(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fn(rep)
		w.WriteHeader(http.StatusNoContent)
	})
}
