package nomad

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/stichdev/stich/appbuild"
)

// BuildPathPrefix is where a node serves its Nomad builds' workspaces and
// takes their reports. Requests under it carry no session or API token:
// the signed, single-use URL is their only authority.
const BuildPathPrefix = "/v1/sandbox-build/"

// SourceNomad is the log source of the runner's own lines (dispatches,
// placement, retries).
const SourceNomad = "nomad"

// Errors of a Nomad build.
var (
	// ErrAllocLost: the build's allocation was lost (its client went
	// away) before it reported.
	ErrAllocLost = errors.New("nomad: the build's allocation was lost")
	// ErrBuildTask: the build task ended without a report.
	ErrBuildTask = errors.New("nomad: the build task ended without a result")
)

// maxReport bounds an uploaded build report (the preview's 128 MiB,
// base64-encoded, and the diagnostics).
const maxReport = 200 << 20

// BuildRunnerConfig configures a [BuildRunner].
type BuildRunnerConfig struct {
	Client *Client
	// JobID is the registered parameterized sandbox job ([SandboxJob]).
	JobID string
	// NodeURL is this node's HTTP root as the Nomad clients reach it
	// (http://10.0.0.5:8080); the signed URLs are under it.
	NodeURL string
	// Secret keys the URLs' HMAC; at least 32 bytes.
	Secret []byte
	// URLTTL bounds how long a URL is good for (default 5m): the task must
	// be placed and fetch the workspace within it; the result URL gets
	// Timeout on top.
	URLTTL time.Duration
	// Timeout bounds one attempt, from dispatch to report (default 10m).
	Timeout time.Duration
	// Retries is how many times a lost allocation or a failed placement
	// is dispatched again (default 1; negative for none).
	Retries int
	// Poll is how often the allocation's status is read (default 250ms).
	Poll time.Duration
}

// BuildRunner runs app checks as dispatches of the sandbox job: each
// check is one child job whose task fetches the app through a signed,
// single-use URL from this node, runs `stich sandbox-build` (install,
// tsc, fixer and bundle in the client's local sandbox, with its limits)
// and uploads its report through a second such URL. The task's output is
// followed through the alloc logs API and passed on as the check's log.
//
// The report is uploaded rather than written to the log as a framed
// record: the log is the app's untrusted output (an install script or
// tsc plugin could print a forged frame), Nomad rotates and truncates it
// (the job keeps 2×10 MB), and a preview is megabytes of binary data.
//
// A BuildRunner is an [appbuild.Remote] and is safe for concurrent use.
type BuildRunner struct {
	cfg BuildRunnerConfig

	mu      sync.Mutex
	pending map[string]*pendingBuild // by build id
}

type pendingBuild struct {
	session              string
	request              []byte
	fetched, resultTaken bool
	report               chan appbuild.BuildReport // buffered 1
}

// NewBuildRunner checks cfg.
func NewBuildRunner(cfg BuildRunnerConfig) (*BuildRunner, error) {
	if cfg.Client == nil {
		return nil, errors.New("nomad: build runner: no client")
	}
	if !jobIDRE.MatchString(cfg.JobID) {
		return nil, fmt.Errorf("nomad: build runner: job id %q", cfg.JobID)
	}
	if !strings.HasPrefix(cfg.NodeURL, "http://") && !strings.HasPrefix(cfg.NodeURL, "https://") {
		return nil, fmt.Errorf("nomad: build runner: node URL %q: want http(s)://host:port", cfg.NodeURL)
	}
	if len(cfg.Secret) < 32 {
		return nil, errors.New("nomad: build runner: the URL secret needs at least 32 bytes")
	}
	cfg.NodeURL = strings.TrimSuffix(cfg.NodeURL, "/")
	if cfg.URLTTL <= 0 {
		cfg.URLTTL = 5 * time.Minute
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Minute
	}
	if cfg.Retries == 0 {
		cfg.Retries = 1
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 250 * time.Millisecond
	}
	return &BuildRunner{cfg: cfg, pending: map[string]*pendingBuild{}}, nil
}

// Token purposes.
const (
	purposeWorkspace = "workspace"
	purposeResult    = "result"
)

// sign returns the token of a URL: purpose, session, build and expiry,
// and an HMAC-SHA256 over them.
func (r *BuildRunner) sign(purpose, session, build string, expires time.Time) string {
	payload := strings.Join([]string{purpose, session, build, strconv.FormatInt(expires.Unix(), 10)}, "\n")
	m := hmac.New(sha256.New, r.cfg.Secret)
	m.Write([]byte(payload))
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(payload)) + "." + enc.EncodeToString(m.Sum(nil))
}

// verify checks a token's signature and expiry and returns its session
// and build.
func (r *BuildRunner) verify(token, purpose string, now time.Time) (session, build string, err error) {
	enc := base64.RawURLEncoding
	p, s, ok := strings.Cut(token, ".")
	payload, perr := enc.DecodeString(p)
	sig, serr := enc.DecodeString(s)
	if !ok || perr != nil || serr != nil {
		return "", "", errors.New("malformed token")
	}
	m := hmac.New(sha256.New, r.cfg.Secret)
	m.Write(payload)
	if !hmac.Equal(sig, m.Sum(nil)) {
		return "", "", errors.New("bad signature")
	}
	f := strings.Split(string(payload), "\n")
	if len(f) != 4 || f[0] != purpose {
		return "", "", errors.New("token for another use")
	}
	exp, err := strconv.ParseInt(f[3], 10, 64)
	if err != nil {
		return "", "", errors.New("malformed token")
	}
	if now.Unix() > exp {
		return "", "", errors.New("expired URL")
	}
	return f[1], f[2], nil
}

// Handler serves the signed URLs: GET BuildPathPrefix+"workspace/TOKEN"
// answers the build request once; PUT BuildPathPrefix+"result/TOKEN"
// takes the report once. A bad, expired, replayed or unknown token is
// refused with 403.
func (r *BuildRunner) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+BuildPathPrefix+"workspace/{token}", r.serveWorkspace)
	mux.HandleFunc("PUT "+BuildPathPrefix+"result/{token}", r.takeResult)
	return mux
}

// claim consumes a token: it must be valid and not used before.
func (r *BuildRunner) claim(token, purpose string) (*pendingBuild, error) {
	session, build, err := r.verify(token, purpose, time.Now())
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	pb := r.pending[build]
	if pb == nil || pb.session != session {
		return nil, errors.New("no such build (finished or never started)")
	}
	used := &pb.fetched
	if purpose == purposeResult {
		used = &pb.resultTaken
	}
	if *used {
		return nil, errors.New("URL already used")
	}
	*used = true
	return pb, nil
}

func (r *BuildRunner) serveWorkspace(w http.ResponseWriter, req *http.Request) {
	pb, err := r.claim(req.PathValue("token"), purposeWorkspace)
	if err != nil {
		http.Error(w, "sandbox build: "+err.Error(), http.StatusForbidden)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(pb.request)
}

func (r *BuildRunner) takeResult(w http.ResponseWriter, req *http.Request) {
	pb, err := r.claim(req.PathValue("token"), purposeResult)
	if err != nil {
		http.Error(w, "sandbox build: "+err.Error(), http.StatusForbidden)
		return
	}
	var rep appbuild.BuildReport
	dec := json.NewDecoder(http.MaxBytesReader(w, req.Body, maxReport))
	if err := dec.Decode(&rep); err != nil {
		rep = appbuild.BuildReport{Error: "the build's report could not be read: " + err.Error()}
		http.Error(w, "sandbox build: bad report: "+err.Error(), http.StatusBadRequest)
	} else {
		w.WriteHeader(http.StatusNoContent)
	}
	select {
	case pb.report <- rep:
	default:
	}
}

// Check runs one check as a dispatch of the sandbox job, dispatching
// again (Retries times) when placement fails or the allocation is lost.
// It returns within Timeout per attempt, and at once when ctx ends. The
// task's progress lines go to log and its sub-steps (installing,
// type-checking, bundling: the lines of [appbuild.LinePrinter]) to step,
// which may be nil, as the task prints them.
func (r *BuildRunner) Check(ctx context.Context, req appbuild.BuildRequest, log appbuild.LogFunc, step appbuild.StepFunc) (appbuild.Outcome, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return appbuild.Outcome{}, fmt.Errorf("nomad: build request: %w", err)
	}
	for attempt := 0; ; attempt++ {
		out, err := r.attempt(ctx, req.ID, body, log, step)
		retry := errors.Is(err, ErrAllocLost) || errors.Is(err, ErrPlacement)
		if !retry || attempt >= r.cfg.Retries || ctx.Err() != nil {
			if retry {
				err = fmt.Errorf("%w (after %d attempts; the next check dispatches again)", err, attempt+1)
			}
			return out, err
		}
		log(SourceNomad, "warn", fmt.Sprintf("%v; dispatching the build again", err))
	}
}

// attempt is one dispatch, followed to its report.
func (r *BuildRunner) attempt(ctx context.Context, session string, body []byte, log appbuild.LogFunc, step appbuild.StepFunc) (appbuild.Outcome, error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	var idb [12]byte
	rand.Read(idb[:])
	build := hex.EncodeToString(idb[:])
	pb := &pendingBuild{session: session, request: body, report: make(chan appbuild.BuildReport, 1)}
	r.mu.Lock()
	r.pending[build] = pb
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.pending, build)
		r.mu.Unlock()
	}()
	now := time.Now()
	meta := map[string]string{
		"workspace_url": r.cfg.NodeURL + BuildPathPrefix + "workspace/" + r.sign(purposeWorkspace, session, build, now.Add(r.cfg.URLTTL)),
		"result_url":    r.cfg.NodeURL + BuildPathPrefix + "result/" + r.sign(purposeResult, session, build, now.Add(r.cfg.URLTTL+r.cfg.Timeout)),
	}
	jobs := r.cfg.Client.api.Jobs()
	resp, _, err := jobs.Dispatch(r.cfg.JobID, meta, nil, "", (&api.WriteOptions{}).WithContext(ctx))
	if err != nil {
		return appbuild.Outcome{}, r.cfg.Client.translate("dispatch "+r.cfg.JobID, err)
	}
	child := resp.DispatchedJobID
	finished := false
	defer func() {
		if !finished { // stop what is left of it, on a context of its own
			sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer scancel()
			jobs.Deregister(child, false, (&api.WriteOptions{}).WithContext(sctx))
		}
	}()
	log(SourceNomad, "info", "dispatched "+child)
	if err := r.cfg.Client.WaitEval(ctx, resp.EvalID); err != nil {
		return appbuild.Outcome{}, fmt.Errorf("build %s: %w", child, err)
	}
	allocID, err := r.waitAlloc(ctx, child)
	if err != nil {
		return appbuild.Outcome{}, err
	}
	alloc, _, err := r.cfg.Client.api.Allocations().Info(allocID, (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return appbuild.Outcome{}, r.cfg.Client.translate("allocation "+allocID, err)
	}
	lctx, lcancel := context.WithCancel(ctx)
	defer lcancel()
	var logs sync.WaitGroup
	tail := &tailLines{}
	for _, stream := range []string{"stdout", "stderr"} {
		logs.Add(1)
		go func() {
			defer logs.Done()
			r.followLog(lctx, alloc, stream, log, step, tail)
		}()
	}
	// drain waits (briefly) for the log followers to pass on the task's
	// last lines: they end when the task exits.
	drain := func() {
		done := make(chan struct{})
		go func() { logs.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
		lcancel()
		logs.Wait()
	}
	t := time.NewTicker(r.cfg.Poll)
	defer t.Stop()
	for {
		select {
		case rep := <-pb.report:
			finished = true
			drain()
			return rep.Outcome()
		case <-ctx.Done():
			lcancel()
			logs.Wait()
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return appbuild.Outcome{}, fmt.Errorf("build %s: no result within %s: %w", child, r.cfg.Timeout, ctx.Err())
			}
			return appbuild.Outcome{}, ctx.Err()
		case <-t.C:
		}
		a, _, err := r.cfg.Client.api.Allocations().Info(allocID, (&api.QueryOptions{}).WithContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				continue
			}
			return appbuild.Outcome{}, r.cfg.Client.translate("allocation "+allocID, err)
		}
		switch a.ClientStatus {
		case api.AllocClientStatusLost:
			lcancel()
			logs.Wait()
			return appbuild.Outcome{}, fmt.Errorf("%w: build %s, allocation %s: %s", ErrAllocLost, child, allocID, a.ClientDescription)
		case api.AllocClientStatusComplete, api.AllocClientStatusFailed:
			// The report is uploaded before the task exits.
			select {
			case rep := <-pb.report:
				finished = true
				drain()
				return rep.Outcome()
			default:
			}
			finished = true
			drain()
			return appbuild.Outcome{}, fmt.Errorf("%w: build %s, allocation %s %s: %s", ErrBuildTask, child, allocID, a.ClientStatus, tail.String())
		}
	}
}

// waitAlloc returns the allocation of a dispatched job once it has one.
func (r *BuildRunner) waitAlloc(ctx context.Context, job string) (string, error) {
	for {
		allocs, _, err := r.cfg.Client.api.Jobs().Allocations(job, true, (&api.QueryOptions{}).WithContext(ctx))
		if err != nil {
			return "", r.cfg.Client.translate("allocations of "+job, err)
		}
		if len(allocs) > 0 {
			return allocs[0].ID, nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("build %s: not placed: %w", job, ctx.Err())
		case <-time.After(r.cfg.Poll):
		}
	}
}

// followLog passes a task stream's lines to log: stdout carries the
// build's own lines ("source\tlevel\ttext", as `stich sandbox-build`
// prints them) and its sub-steps (to step, when not nil: only the known
// steps, their outcome cut to 200 bytes), stderr anything else the task
// said.
func (r *BuildRunner) followLog(ctx context.Context, alloc *api.Allocation, stream string, log appbuild.LogFunc, step appbuild.StepFunc, tail *tailLines) {
	// No cancel channel: ctx ends the request, and with it the API's reader.
	frames, errs := r.cfg.Client.api.AllocFS().Logs(alloc, true, "build", stream, api.OriginStart, 0, nil, (&api.QueryOptions{}).WithContext(ctx))
	pr, pw := io.Pipe()
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		// ended: the API's reader has returned. It ends by closing frames
		// or by sending its one error (it then leaves frames open), so
		// after either there is nothing more to wait for.
		ended := false
		defer func() {
			pw.Close()
			// Until the API's reader ends (ctx ends it), take its frames so
			// it never blocks on a full channel.
			for !ended {
				select {
				case _, ok := <-frames:
					ended = !ok
				case <-errs:
					ended = true
				}
			}
		}()
		for {
			select {
			case f, ok := <-frames:
				if !ok {
					ended = true
					return
				}
				if f != nil && len(f.Data) > 0 {
					if _, err := pw.Write(f.Data); err != nil {
						return
					}
				}
			case <-errs:
				ended = true
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	sc := bufio.NewScanner(pr)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if name, ended, took, outcome, ok := appbuild.ParseStepLine(line); ok && stream == "stdout" {
			if knownStep[name] && step != nil {
				if len(outcome) > 200 {
					outcome = strings.ToValidUTF8(outcome[:200], "")
				}
				step(name, ended, took, outcome)
			}
			continue
		}
		source, level, text := SourceNomad, "warn", line
		if f := strings.SplitN(line, "\t", 3); stream == "stdout" && len(f) == 3 && knownSource[f[0]] && (f[1] == "info" || f[1] == "warn" || f[1] == "error") {
			source, level, text = f[0], f[1], f[2]
		}
		if text = strings.TrimSpace(text); text != "" {
			log(source, level, text)
			tail.add(text)
		}
	}
	pr.CloseWithError(io.EOF) // stops the copier's next write
	<-copied
}

// knownStep are the sub-steps a build task may report.
var knownStep = map[string]bool{appbuild.StepInstall: true, appbuild.StepTypeCheck: true, appbuild.StepBundle: true}

var knownSource = map[string]bool{appbuild.SourceInstall: true, appbuild.SourceTypeCheck: true, appbuild.SourceFixer: true, appbuild.SourcePreview: true}

// tailLines keeps a task's last lines for an error message.
type tailLines struct {
	mu    sync.Mutex
	lines []string
}

func (t *tailLines) add(s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, s)
	if len(t.lines) > 5 {
		t.lines = t.lines[len(t.lines)-5:]
	}
}

func (t *tailLines) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.lines) == 0 {
		return "it printed nothing"
	}
	return "its last lines: " + strings.Join(t.lines, " | ")
}
