package rpc

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/stichdev/stich/actors"
	"github.com/stichdev/stich/auth"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// sessionIDPattern is the session id rule of session.proto.
var sessionIDPattern = regexp.MustCompile(`^s-[a-z0-9]{8,40}([.][a-z0-9-]{1,32})?$`)

// zipTime is the modification time of every zip entry: a fixed time makes
// the same files produce the same bytes (1980-01-01, the zip epoch).
var zipTime = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// downloadTimeout bounds building one zip (one grain call per file).
const downloadTimeout = 60 * time.Second

// DownloadPath is the URL path of a session's zip download.
func DownloadPath(sessionID string) string { return "/api/sessions/" + sessionID + "/download.zip" }

// httpStatus maps Connect codes to HTTP statuses for the plain HTTP
// endpoints (the mapping of the Connect protocol).
var httpStatus = map[connect.Code]int{
	connect.CodeCanceled: 499, connect.CodeInvalidArgument: http.StatusBadRequest,
	connect.CodeDeadlineExceeded: http.StatusGatewayTimeout, connect.CodeNotFound: http.StatusNotFound,
	connect.CodeAlreadyExists: http.StatusConflict, connect.CodePermissionDenied: http.StatusForbidden,
	connect.CodeResourceExhausted: http.StatusTooManyRequests, connect.CodeFailedPrecondition: http.StatusBadRequest,
	connect.CodeOutOfRange: http.StatusBadRequest, connect.CodeUnimplemented: http.StatusNotImplemented,
	connect.CodeUnavailable: http.StatusServiceUnavailable, connect.CodeUnauthenticated: http.StatusUnauthorized,
}

// writeError answers a plain HTTP request with a Connect error's status
// and message.
func writeError(w http.ResponseWriter, err *connect.Error) {
	status, ok := httpStatus[err.Code()]
	if !ok {
		status = http.StatusInternalServerError
	}
	if ra := err.Meta().Get("Retry-After"); ra != "" {
		w.Header().Set("Retry-After", ra)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	fmt.Fprintf(w, "%s: %s\n", err.Code(), err.Message())
}

// folderName turns an app's title into a folder name: lower-case letters,
// digits and dashes, at most 60 characters; "app" when nothing is left.
func folderName(title string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(title) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
		default:
			dash = true
		}
		if b.Len() >= 60 {
			break
		}
	}
	name := strings.Trim(b.String(), "-")
	if name == "" {
		return "app"
	}
	return name
}

// download serves GET /api/sessions/{id}/download.zip[?version=N]: the
// app's current files, or those of version N, as a zip with every file
// under one folder named after the app, in path order, with fixed times.
//
// The zip is streamed: one file is in memory at a time. Everything that
// can be refused (the id, the version, an empty app) is checked before the
// status is sent; a file that cannot be read after that aborts the
// response, so the client sees a broken transfer, never a short zip.
func (s *Server) download(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), downloadTimeout)
	defer cancel()
	p := auth.FromContext(ctx)
	if p == nil {
		// An anonymous visitor: counted per address; it may read an
		// unlisted or public app (policyPublic).
		if err := s.authz.anonymousLimit(ctx); err != nil {
			writeError(w, err.(*connect.Error))
			return
		}
	}
	id := r.PathValue("id")
	if sessionIDPattern.MatchString(id) {
		if err := s.authz.mayRead(ctx, p, id); err != nil {
			writeError(w, err.(*connect.Error))
			return
		}
	}
	plan, cerr := s.planZip(ctx, id, r.URL.Query())
	if cerr != nil {
		writeError(w, cerr)
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s"`, plan.name))
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if r.Method == http.MethodHead {
		return
	}
	if err := s.writeZip(ctx, w, plan); err != nil {
		s.log.Warn("download aborted", "session", plan.id, "err", err)
		panic(http.ErrAbortHandler)
	}
}

// zipPlan is what a download sends: checked before the first byte.
type zipPlan struct {
	id, folder, name string
	version          uint32
	files            []*stichv1.FileInfo
}

// planZip checks a download request and lists the files to send.
func (s *Server) planZip(ctx context.Context, id string, q map[string][]string) (*zipPlan, *connect.Error) {
	fail := func(err error) *connect.Error {
		var ce *connect.Error
		if errors.As(toConnect(ctx, s.log, "Download", err), &ce) {
			return ce
		}
		return connect.NewError(connect.CodeInternal, err)
	}
	if !sessionIDPattern.MatchString(id) {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("invalid session id %q", id))
	}
	var version uint32
	if vs := q["version"]; len(vs) > 0 {
		v, err := strconv.ParseUint(vs[0], 10, 32)
		if len(vs) > 1 || err != nil || v == 0 {
			return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("version must be one whole number ≥ 1 (omit it for the current files)"))
		}
		version = uint32(v)
	}
	n := s.rt.Node
	snap, err := actors.Call[*actorsv1.SnapshotReply](ctx, n, actors.KindSession, id, &actorsv1.GetSnapshot{Caller: callerOf(ctx)})
	if err != nil {
		return nil, fail(err)
	}
	title := snap.GetSession().GetBlueprint().GetTitle()
	if anonymous(ctx) {
		// No apps index of the caller's to ask.
	} else if app, err := actors.Call[*actorsv1.AppReply](ctx, n, actors.KindApps, owner(ctx), &actorsv1.GetApp{SessionId: id}); err == nil {
		title = app.GetEntry().GetTitle()
	}
	list, err := actors.Call[*actorsv1.ListFilesReply](ctx, n, actors.KindSession, id, &actorsv1.ListFiles{Caller: callerOf(ctx), Version: version})
	if err != nil {
		return nil, fail(err)
	}
	if version == 0 && len(list.GetFiles()) == 0 {
		return nil, connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("session %s has no files yet; wait for the generation to write some", id))
	}
	p := &zipPlan{id: id, folder: folderName(title), version: version, files: list.GetFiles()}
	p.name = p.folder + ".zip"
	if version > 0 {
		p.name = fmt.Sprintf("%s-v%d.zip", p.folder, version)
	}
	return p, nil
}

// writeZip reads the plan's files one at a time (sorted by path) and
// writes them to w as a zip.
func (s *Server) writeZip(ctx context.Context, w io.Writer, p *zipPlan) error {
	zw := zip.NewWriter(w)
	for _, f := range p.files {
		rf, err := actors.Call[*actorsv1.ReadFileReply](ctx, s.rt.Node, actors.KindSession, p.id, &actorsv1.ReadFile{Caller: callerOf(ctx), Path: f.GetPath(), Version: p.version})
		if err != nil {
			return fmt.Errorf("rpc: zip: read %s: %w", f.GetPath(), err)
		}
		hdr := &zip.FileHeader{Name: p.folder + "/" + f.GetPath(), Method: zip.Deflate, Modified: zipTime}
		hdr.SetMode(0o644)
		fw, err := zw.CreateHeader(hdr)
		if err == nil {
			_, err = io.WriteString(fw, rf.GetFile().GetContent())
		}
		if err != nil {
			return fmt.Errorf("rpc: zip %s: %w", f.GetPath(), err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("rpc: zip: %w", err)
	}
	return nil
}

// apiNotFound answers unknown /api/ paths (never the UI's index.html).
func apiNotFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, connect.NewError(connect.CodeNotFound, fmt.Errorf("no API endpoint at %s", r.URL.Path)))
}

// methodNotAllowed answers 405 with the allowed methods.
func methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusMethodNotAllowed)
		fmt.Fprintf(w, "%s is not allowed here; use %s\n", r.Method, allow)
	}
}
