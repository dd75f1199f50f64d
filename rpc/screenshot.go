package rpc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"connectrpc.com/connect"

	"github.com/stichdev/stich/actors"
	"github.com/stichdev/stich/auth"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
)

// ScreenshotPath is where the owner of a session gets the screenshot the
// runtime check took of the app's current build.
func ScreenshotPath(sessionID string) string { return "/api/sessions/" + sessionID + "/screenshot.png" }

// maxScreenshotBytes refuses a screenshot larger than the runtime check
// ever takes (runcheck.MaxScreenshotBytes), whatever node answered.
const maxScreenshotBytes = 512 << 10

// screenshot serves GET /api/sessions/{id}/screenshot.png to the session's
// owner: the PNG of the current build, or 204 when there is none (no
// build yet, no browser on the node, the workspace was freed when idle).
// Another user's session and an unknown one both answer 404.
func (s *Server) screenshot(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
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
	if !sessionIDPattern.MatchString(id) {
		writeError(w, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("invalid session id %q", id)))
		return
	}
	if err := s.authz.mayRead(ctx, p, id); err != nil {
		writeError(w, err.(*connect.Error))
		return
	}
	reply, err := actors.Call[*actorsv1.SandboxScreenshotReply](ctx, s.rt.Node, actors.KindSandbox, id, &actorsv1.SandboxScreenshot{})
	if err != nil {
		var ce *connect.Error
		if !errors.As(toConnect(ctx, s.log, "Screenshot", err), &ce) {
			ce = connect.NewError(connect.CodeInternal, err)
		}
		writeError(w, ce)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	png := reply.GetPng()
	if len(png) == 0 || len(png) > maxScreenshotBytes || string(png[:min(8, len(png))]) != "\x89PNG\r\n\x1a\n" {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Content-Length", strconv.Itoa(len(png)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(png)
	}
}
