package rpc

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stichdev/stich/preview"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
)

// pathRoutedPreview is the preview server as it was before each app had an
// origin of its own: one origin, apps under /preview/SESSION/, two headers.
// It is the reference of [BenchmarkOriginRouting].
func pathRoutedPreview(asset func(ctx context.Context, id, path string) (*actorsv1.SandboxAssetReply, error)) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/preview/{session}/{path...}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("session")
		if !sessionIDPattern.MatchString(id) {
			http.Error(w, "not a session id", http.StatusNotFound)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), previewCallTimeout)
		defer cancel()
		a, err := asset(ctx, id, "/"+r.PathValue("path"))
		if err != nil || !a.GetFound() {
			http.NotFound(w, r)
			return
		}
		preview.ServeAsset(w, r, preview.Asset{Path: a.GetPath(), Body: a.GetBody(), ContentType: a.GetContentType(), ETag: a.GetEtag(), Immutable: a.GetImmutable()})
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		mux.ServeHTTP(w, r)
	})
}

// originBench is the two preview servers of the routing benchmarks, each
// with its request for the same 64 KB script of an app's bundle. Both read
// the file from the same in-process source, so the grain call (the same
// for both) is left out and the routing and headers are what differ.
type originBench struct {
	body       []byte
	stich, ref http.Handler
	stichReq   func() *http.Request
	refReq     func() *http.Request
}

func newOriginBench() *originBench {
	const id = "s-abcdefghijklmnopqrst.local"
	o := &originBench{body: bytes.Repeat([]byte("console.log('stich');\n"), 64<<10/22)}
	asset := func(ctx context.Context, _ string, _ uint32, path string) (*actorsv1.SandboxAssetReply, error) {
		return &actorsv1.SandboxAssetReply{Built: true, Found: true, Body: o.body, ContentType: "text/javascript; charset=utf-8",
			Etag: `"abc"`, Immutable: true, Path: path}, nil
	}
	origins := preview.Origins{Scheme: "http", Domain: preview.DefaultDomain, Port: "8081"}
	h := &previewHandler{log: slog.New(slog.NewTextHandler(io.Discard, nil)), origins: origins,
		csp: previewCSP([]string{"http://127.0.0.1:8080", "http://localhost:8080"}), asset: asset}
	// The request carries the origin's cookie; its grains' answer is
	// remembered, as between a node's rechecks.
	cookie := openPreviewAuth(h, id)
	o.stich, o.ref = h.handler(), pathRoutedPreview(func(ctx context.Context, id, path string) (*actorsv1.SandboxAssetReply, error) {
		return asset(ctx, id, 0, path)
	})
	o.stichReq = func() *http.Request {
		r := httptest.NewRequest(http.MethodGet, "http://x/assets/index-AbCdEf12.js", nil)
		r.Host = preview.Label(id) + ".preview.localhost:8081"
		r.Header.Set("Cookie", cookie)
		return r
	}
	o.refReq = func() *http.Request {
		r := httptest.NewRequest(http.MethodGet, "http://x/preview/"+id+"/assets/index-AbCdEf12.js", nil)
		r.Host = "127.0.0.1:8081"
		return r
	}
	return o
}

// interleaved runs one request of each kind per iteration, in alternating
// order, each timed on its own, so that the machine's load weighs on both
// alike; it reports the median of each (stich-p50-ns, ref-p50-ns) and
// their ratio under metric (`make bench` checks it).
func interleaved(b *testing.B, metric string, stich, ref func()) {
	var st, rt []time.Duration
	timed := func(f func(), into *[]time.Duration) {
		start := time.Now()
		f()
		*into = append(*into, time.Since(start))
	}
	i := 0
	for b.Loop() {
		if i%2 == 0 {
			timed(stich, &st)
			timed(ref, &rt)
		} else {
			timed(ref, &rt)
			timed(stich, &st)
		}
		i++
	}
	slices.Sort(st)
	slices.Sort(rt)
	s, r := float64(st[len(st)/2]), float64(rt[len(rt)/2])
	b.ReportMetric(s, "stich-p50-ns")
	b.ReportMetric(r, "ref-p50-ns")
	b.ReportMetric(s/r, metric)
}

// BenchmarkOriginRouting measures one preview request over loopback HTTP
// with keep-alive: routed by the Host of the app's own origin, with the
// CSP and the other headers (stich), against the path routing it replaced
// (reference), interleaved (see interleaved). origin-x is the ratio of
// the medians.
func BenchmarkOriginRouting(b *testing.B) {
	o := newOriginBench()
	get := func(h http.Handler, req func() *http.Request, wantCSP bool) func() {
		srv := httptest.NewServer(h)
		b.Cleanup(srv.Close)
		client := srv.Client()
		r := req()
		out, _ := http.NewRequest(http.MethodGet, srv.URL+r.URL.Path, nil)
		out.Host, out.Header = r.Host, r.Header.Clone()
		return func() {
			res, err := client.Do(out)
			if err != nil {
				b.Fatal(err)
			}
			n, _ := io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK || n != int64(len(o.body)) {
				b.Fatalf("%s: %d, %d bytes", out.URL.Path, res.StatusCode, n)
			}
			if wantCSP && !strings.Contains(res.Header.Get("Content-Security-Policy"), "script-src 'self'") {
				b.Fatal("no CSP")
			}
		}
	}
	interleaved(b, "origin-x", get(o.stich, o.stichReq, true), get(o.ref, o.refReq, false))
}

// discardWriter is a ResponseWriter that keeps nothing but its headers.
type discardWriter struct {
	h      http.Header
	status int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(status int)      { d.status = status }

// BenchmarkOriginRoutingHandler is BenchmarkOriginRouting without the
// network: the handlers alone, so that any work the origin routing and
// its headers add is not hidden in the loopback round trip.
func BenchmarkOriginRoutingHandler(b *testing.B) {
	o := newOriginBench()
	serve := func(h http.Handler, req *http.Request) func() {
		w := &discardWriter{h: http.Header{}}
		return func() {
			clear(w.h)
			w.status = 0
			h.ServeHTTP(w, req)
			if w.status != 0 && w.status != http.StatusOK {
				b.Fatalf("status %d", w.status)
			}
		}
	}
	interleaved(b, "handler-x", serve(o.stich, o.stichReq()), serve(o.ref, o.refReq()))
}
