package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/stichdev/stich/actors"
	"github.com/stichdev/stich/codegen"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/proto/stich/v1/stichv1connect"
	"github.com/stichdev/stich/sandbox"
)

type generateFlags struct {
	servers  []string
	out      string
	force    bool
	json     bool
	provider string
	timeout  time.Duration
	// reconnectFor bounds the attempts to resume a broken stream.
	reconnectFor time.Duration
	models       modelFlags
}

func newGenerateCmd(g *globalFlags) *cobra.Command {
	f := &generateFlags{}
	cmd := &cobra.Command{
		Use:   "generate [flags] PROMPT",
		Short: "Generate an app from a prompt and follow its progress",
		Long: `Generate an app from a prompt. Without --server, an embedded node with a temporary data
folder runs for the duration of the command. Progress goes to stdout: phases and a progress
bar on a terminal, plain lines otherwise, NDJSON events with --json. With --out, the app's
files are written to that folder when generation completes.

With several --server URLs, the session is created on the first node that accepts
connections, and if a node dies while the command follows the session, it resumes from the
last event on the same or another node (every event is shown once). If it cannot, it prints
the 'stich watch' command that resumes.

Exit codes: 0 the app was generated; 1 generation failed or was stopped, or the server
reported an error; 2 bad flags or arguments.`,
		Example: `  stich generate --out recipes "a recipe tracker with ingredients and ratings"
  stich generate --server http://127.0.0.1:8080 --json "a kanban board for my team" > events.ndjson
  stich generate --server http://10.0.0.1:8080,http://10.0.0.2:8080 "a habit tracker"
  OPENAI_API_KEY=... stich generate --provider openai --model gpt-4.1 "a habit tracker"
  stich generate --provider ollama --base-url http://127.0.0.1:11434/v1 --model qwen2.5-coder "a notes app"`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{fmt.Errorf("generate takes exactly one PROMPT argument (quote it), got %d", len(args))}
			}
			if strings.TrimSpace(args[0]) == "" {
				return usageError{errors.New("the prompt is empty: describe the app to build")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return generate(cmd.Context(), g, f, args[0], cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&f.servers, "server", nil, "URL of a running stich node; several (comma-separated or repeated) to fail over between them (default: run an embedded node)")
	fl.StringVar(&f.out, "out", "", "folder to write the generated app to")
	fl.BoolVar(&f.force, "force", false, "allow --out to name a folder that already has files (they may be overwritten)")
	fl.BoolVar(&f.json, "json", false, "print events as NDJSON instead of progress")
	fl.StringVar(&f.provider, "provider", "", "provider that writes the app: scaffold, or a model provider kind such as openai (default: the server's default); without --server, a model kind configures the embedded node")
	aliasModelProvider(fl)
	fl.StringVar(&f.models.config, "llm-config", "", "embedded node: model configuration file (see stich serve --help)")
	fl.StringVar(&f.models.baseURL, "base-url", "", "embedded node: OpenAI-compatible API root of the model provider")
	fl.StringVar(&f.models.model, "model", "", "embedded node: model id")
	fl.StringVar(&f.models.fallback, "fallback-model", "", "embedded node: model to switch to when --model keeps failing")
	fl.StringVar(&f.models.apiKeyEnv, "api-key-env", "", "embedded node: environment variable holding the API key")
	fl.DurationVar(&f.timeout, "timeout", 30*time.Minute, "give up after this long")
	fl.DurationVar(&f.reconnectFor, "reconnect-for", defaultReconnectFor, "how long to keep trying to resume a broken stream on the --server nodes before giving up")
	return cmd
}

func generate(ctx context.Context, g *globalFlags, f *generateFlags, prompt string, stdout, stderr io.Writer) error {
	if f.out != "" && !f.force {
		if entries, err := os.ReadDir(f.out); err == nil && len(entries) > 0 {
			return usageError{fmt.Errorf("--out %s already has files; choose an empty folder or pass --force", f.out)}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	provider := f.provider
	var eps []endpoint
	if len(f.servers) == 0 {
		if provider != "" && provider != "scaffold" {
			f.models.provider = provider
		}
		stop, url, err := startEmbedded(ctx, g, &f.models, stderr)
		if err != nil {
			return err
		}
		defer stop()
		eps = []endpoint{{url: url, client: stichv1connect.NewSessionServiceClient(apiHTTP, url)}}
	} else {
		var err error
		if eps, err = endpoints("--server", f.servers); err != nil {
			return err
		}
	}
	res, err := onAny(eps, func(ep endpoint) (*connect.Response[stichv1.CreateSessionResponse], error) {
		return ep.client.CreateSession(ctx, connect.NewRequest(&stichv1.CreateSessionRequest{
			Prompt: prompt, Options: &stichv1.SessionOptions{Provider: sessionProvider(f)},
		}))
	})
	if err != nil {
		return err
	}
	id := res.Msg.GetSessionId()
	r := newRenderer(stdout, f.json)
	r.header(id, res.Msg.GetProviderLabel())
	final, err := followAny(ctx, eps, id, 0, f.reconnectFor, r.event)
	r.finish()
	if err != nil {
		return err
	}
	if err := outcome(id, final); err != nil {
		return err
	}
	if f.out != "" {
		n, err := readAny(eps, func(ep endpoint) (int, error) { return writeApp(ctx, ep.client, id, f.out) })
		if err != nil {
			return &exitError{code: exitFailure, err: fmt.Errorf("write app to %s: %w", f.out, err)}
		}
		if !f.json {
			fmt.Fprintf(stdout, "Wrote %d files to %s. Next: cd %s && npm install && npm run dev\n", n, f.out, f.out)
		}
	}
	return nil
}

// decisive reports whether ev says how a piece of work ended.
func decisive(ev *stichv1.SessionEvent) bool { return actors.EndsWork(ev) }

// outcome turns the event that ended the work into an exit status.
func outcome(id string, last *stichv1.SessionEvent) error {
	switch e := last.GetEvent().(type) {
	case *stichv1.SessionEvent_Completed:
		return nil
	case *stichv1.SessionEvent_PhaseChanged:
		if e.PhaseChanged.GetPhase() == stichv1.Phase_PHASE_STOPPED {
			return &exitError{code: exitFailure, err: fmt.Errorf("session %s was stopped; resume it to continue", id)}
		}
	}
	return &exitError{code: exitFailure, err: fmt.Errorf("session %s failed", id)}
}

// writeApp writes the session's files under dir, refusing any path that
// would leave it.
func writeApp(ctx context.Context, client stichv1connect.SessionServiceClient, id, dir string) (int, error) {
	list, err := client.ListFiles(ctx, connect.NewRequest(&stichv1.ListFilesRequest{SessionId: id}))
	if err != nil {
		return 0, err
	}
	for _, info := range list.Msg.GetFiles() {
		if err := codegen.CheckPath(info.GetPath()); err != nil {
			return 0, err
		}
		res, err := client.GetFile(ctx, connect.NewRequest(&stichv1.GetFileRequest{SessionId: id, Path: info.GetPath()}))
		if err != nil {
			return 0, err
		}
		target := filepath.Join(dir, filepath.FromSlash(info.GetPath()))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return 0, err
		}
		if err := writeFileAtomic(target, []byte(res.Msg.GetFile().GetContent())); err != nil {
			return 0, err
		}
	}
	return len(list.Msg.GetFiles()), nil
}

// writeFileAtomic writes via a temporary file and rename, so a crash never
// leaves a half-written file.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".stich-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// sessionProvider is the provider a session asks for: with an embedded
// node configured for a model, its default (the model); else --provider.
func sessionProvider(f *generateFlags) string {
	if len(f.servers) == 0 && f.provider != "scaffold" {
		return ""
	}
	return f.provider
}

// startEmbedded runs a node with a temporary data folder for one command.
func startEmbedded(ctx context.Context, g *globalFlags, models *modelFlags, stderr io.Writer) (stop func(), url string, err error) {
	dir, err := os.MkdirTemp("", "stich-generate-")
	if err != nil {
		return nil, "", err
	}
	level := g.logLevel
	if level == "info" {
		level = "warn" // an embedded node's routine logs would drown the progress
	}
	log, err := (&globalFlags{logLevel: level, logFormat: g.logFormat}).logger(stderr)
	if err != nil {
		os.RemoveAll(dir)
		return nil, "", err
	}
	f := &serveFlags{data: dir, http: "127.0.0.1:0", nodeName: "embedded", region: "local",
		gossipAddr: "127.0.0.1:0", actorAddr: "127.0.0.1:0", passivateAfter: 5 * time.Minute, shutdownGrace: 10 * time.Second,
		replication: 1, // a private one-node cluster
		embedded:    true,
		edge:        edgeFlags{auth: "single"},
		models:      *models,
		// The embedded node writes the app to --out; it builds no preview.
		sandbox: sandboxFlags{mode: "off", previewHTTP: "off", registry: defaultRegistry, uid: sandbox.DefaultUID, uids: 1, diskMB: 0}}
	nodeCtx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(nodeCtx, f, log, func(addr string) { ready <- addr }) }()
	select {
	case addr := <-ready:
		return func() {
			cancel()
			if err := <-done; err != nil {
				log.Warn("embedded node", "err", err)
			}
			os.RemoveAll(dir)
		}, "http://" + addr, nil
	case err := <-done:
		cancel()
		os.RemoveAll(dir)
		return nil, "", fmt.Errorf("embedded node: %w", err)
	case <-ctx.Done():
		cancel()
		<-done
		os.RemoveAll(dir)
		return nil, "", ctx.Err()
	}
}

// renderer shows events: NDJSON, or progress on a terminal, or plain lines.
type renderer struct {
	w       io.Writer
	json    bool
	tty     bool
	bar     *progressbar.ProgressBar
	planned int // files in the blueprint's roadmap
	written int // files written so far
}

func newRenderer(w io.Writer, asJSON bool) *renderer {
	r := &renderer{w: w, json: asJSON}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		r.tty = true
	}
	return r
}

func (r *renderer) header(id, label string) {
	if r.json {
		// The first NDJSON line names the session, for scripts.
		b, _ := json.Marshal(map[string]string{"session_id": id, "provider_label": label})
		fmt.Fprintf(r.w, "%s\n", b)
		return
	}
	fmt.Fprintf(r.w, "Session %s — writing with %s\n", id, label)
}

var jsonOpts = protojson.MarshalOptions{UseProtoNames: true}

func (r *renderer) event(ev *stichv1.SessionEvent) {
	if r.json {
		b, err := jsonOpts.Marshal(ev)
		if err == nil {
			fmt.Fprintf(r.w, "%s\n", b)
		}
		return
	}
	switch e := ev.GetEvent().(type) {
	case *stichv1.SessionEvent_PhaseChanged:
		r.clearBar()
		p := e.PhaseChanged
		name := strings.ToLower(strings.TrimPrefix(p.GetPhase().String(), "PHASE_"))
		line := name
		if p.GetName() != "" {
			line += ": " + p.GetName()
		}
		if p.GetDescription() != "" {
			line += " — " + p.GetDescription()
		}
		fmt.Fprintf(r.w, "▸ %s\n", line)
	case *stichv1.SessionEvent_Blueprint:
		bp := e.Blueprint.GetBlueprint()
		r.planned, r.written = 0, 0
		for _, ph := range bp.GetRoadmap() {
			r.planned += len(ph.GetFiles())
		}
		fmt.Fprintf(r.w, "  blueprint: %s (%s app, %d phases, %d files)\n", bp.GetTitle(), bp.GetAppKind(), len(bp.GetRoadmap()), r.planned)
	case *stichv1.SessionEvent_FileDone:
		r.written++
		if r.tty {
			// One bar across phases: it is cleared while other lines print
			// and redrawn at the running count.
			if r.bar == nil {
				r.bar = progressbar.NewOptions(max(r.planned, r.written, 1), progressbar.OptionSetWriter(r.w),
					progressbar.OptionSetDescription("  files"), progressbar.OptionShowCount(), progressbar.OptionClearOnFinish())
			}
			_ = r.bar.Set(r.written)
		} else {
			fmt.Fprintf(r.w, "  wrote %s (%d bytes)\n", e.FileDone.GetPath(), e.FileDone.GetSize())
		}
	case *stichv1.SessionEvent_FileDeleted:
		fmt.Fprintf(r.w, "  deleted %s\n", e.FileDeleted.GetPath())
	case *stichv1.SessionEvent_LogCompacted:
		r.clearBar()
		c := e.LogCompacted
		fmt.Fprintf(r.w, "  (file chunks of seqs %d-%d were compacted; the files are in version %d: stich download --version %d)\n",
			c.GetFromSeq(), c.GetToSeq(), c.GetVersion(), c.GetVersion())
	case *stichv1.SessionEvent_Diagnostics:
		r.clearBar()
		d := e.Diagnostics
		if len(d.GetDiagnostics()) == 0 {
			fmt.Fprintf(r.w, "  %s: no problems\n", d.GetTool())
		}
		for _, x := range d.GetDiagnostics() {
			fmt.Fprintf(r.w, "  %s: %s %s: %s\n", d.GetTool(), x.GetCode(), x.GetFile(), x.GetMessage())
		}
	case *stichv1.SessionEvent_Message:
		r.clearBar()
		fmt.Fprintf(r.w, "  [%s] %s\n", e.Message.GetRole(), e.Message.GetText())
	case *stichv1.SessionEvent_Log:
		fmt.Fprintf(r.w, "  %s: %s\n", e.Log.GetSource(), e.Log.GetText())
	case *stichv1.SessionEvent_Error:
		r.clearBar()
		fmt.Fprintf(r.w, "✗ error (%s): %s\n", e.Error.GetCode(), e.Error.GetMessage())
	case *stichv1.SessionEvent_GenerationResumed:
		fmt.Fprintf(r.w, "  resumed: %s\n", e.GenerationResumed.GetReason())
	case *stichv1.SessionEvent_GenerationStopped:
		fmt.Fprintf(r.w, "  stopped: %s\n", e.GenerationStopped.GetReason())
	case *stichv1.SessionEvent_Completed:
		r.clearBar()
		c := e.Completed
		fmt.Fprintf(r.w, "✓ completed: %d files, %d phases, %s\n", c.GetFiles(), c.GetPhases(), (time.Duration(c.GetDurationMs()) * time.Millisecond).String())
	}
}

func (r *renderer) clearBar() {
	if r.bar != nil {
		_ = r.bar.Finish()
		r.bar = nil
	}
}

func (r *renderer) finish() { r.clearBar() }
