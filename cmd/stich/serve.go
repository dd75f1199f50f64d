package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stichdev/stich/actors"
	"github.com/stichdev/stich/cluster"
	"github.com/stichdev/stich/codegen"
	"github.com/stichdev/stich/nodekey"
	"github.com/stichdev/stich/nomad"
	"github.com/stichdev/stich/pipeline"
	"github.com/stichdev/stich/preview"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/ratelimit"
	"github.com/stichdev/stich/rpc"
)

type serveFlags struct {
	data           string
	http           string
	nodeName       string
	region         string
	zone           string
	gossipAddr     string
	advertiseAddr  string
	replAddr       string
	gossipProfile  string
	gossipKey      string
	gossipKeyFile  string
	tlsCert        string
	tlsKey         string
	tlsCA          string
	actorAddr      string
	join           []string
	replication    int
	forgetAfter    time.Duration
	passivateAfter time.Duration
	compactAfter   time.Duration
	createLimit    int
	createDaily    int
	shutdownGrace  time.Duration
	scaffoldDelay  time.Duration
	quota          pipeline.Quota
	models         modelFlags
	nomadModels    nomadModelFlags
	sandbox        sandboxFlags
	edge           edgeFlags
	budgets        budgetFlags
	oauth          oauthFlags
	// embedded marks the private node of `stich generate`: its owner key
	// stays in this process (no key file, no sign-in link).
	embedded bool
}

func newServeCmd(g *globalFlags) *cobra.Command {
	f := &serveFlags{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run a stich node (API, grains and storage)",
		Long: `Run a stich node. With no flags it is a one-node cluster serving the API on
127.0.0.1:8080, storing everything in ./stich-data, and generating apps with the built-in
scaffold generator (no model needed).

After every phase the app is installed, type-checked, repaired by the deterministic fixer and
bundled inside a bubblewrap sandbox (--sandbox local; Debian: apt-get install bubblewrap), and
each app's preview is served on an origin of its own, http://SESSION.preview.localhost:8081/
(--preview-http, --preview-domain; browsers resolve *.localhost to this machine). Without
bubblewrap, builds are off unless --unsafe-sandbox is given.

SIGINT or SIGTERM shuts it down gracefully: open streams end with Unavailable (clients
reconnect with after_seq), sessions stop and persist, storage is closed. Interrupted
generations resume when the node starts again.`,
		Example: `  stich serve
  stich serve --data /var/lib/stich --http 0.0.0.0:8080 --region eu-west
  stich serve --gossip-addr 10.0.0.1:7946 --actor-addr 10.0.0.1:0 --join 10.0.0.2:7946 \
    --tls-ca certs/ca.pem --tls-cert certs/n1.pem --tls-key certs/n1-key.pem --gossip-key-file certs/gossip.key
  STICH_HTTP=127.0.0.1:9090 stich serve
  OPENAI_API_KEY=... stich serve --provider openai --model gpt-4.1
  stich serve --provider custom --base-url http://127.0.0.1:8000/v1 --model my-model --fallback-model my-small-model`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			log, err := g.logger(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			return serve(cmd.Context(), f, log, nil)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.data, "data", "./stich-data", "folder for the node's storage (created if missing)")
	fl.StringVar(&f.http, "http", "127.0.0.1:8080", "address to serve the API on (host:port; port 0 picks one)")
	fl.StringVar(&f.nodeName, "node-name", "", "name of this node in logs, placement and cluster status; unique in the cluster and the same at every restart (default: generated once from the host name and kept in the data folder's node-name file)")
	fl.StringVar(&f.region, "region", "local", "region of this node")
	fl.StringVar(&f.zone, "zone", "", "zone of this node within its region")
	fl.StringVar(&f.gossipAddr, "gossip-addr", "127.0.0.1:0", "address for cluster gossip (host:port; port 0 picks one)")
	fl.StringVar(&f.advertiseAddr, "advertise-addr", "", "gossip address other members should use to reach this node, if not --gossip-addr (host:port)")
	fl.StringVar(&f.gossipProfile, "gossip-profile", "", "gossip timings: local (one machine), lan or wan (default: local for a loopback --gossip-addr, else lan)")
	fl.StringVar(&f.gossipKey, "gossip-key", "", "base64 key (16, 24 or 32 bytes) encrypting gossip; every member needs the same key")
	fl.StringVar(&f.gossipKeyFile, "gossip-key-file", "", "file holding the --gossip-key (as 'stich cluster certs' writes it); required with TLS off loopback")
	fl.StringVar(&f.tlsCert, "tls-cert", "", "PEM certificate of this node for the cluster's transports (actor remoting, replication), signed by --tls-ca; make one with 'stich cluster certs'")
	fl.StringVar(&f.tlsKey, "tls-key", "", "PEM private key of --tls-cert")
	fl.StringVar(&f.tlsCA, "tls-ca", "", "PEM certificate of the cluster CA: only nodes holding a certificate it signed can join, call or replicate. Without the --tls-* flags the cluster's transports are plaintext, which is allowed only when every address is loopback")
	fl.StringVar(&f.actorAddr, "actor-addr", "127.0.0.1:0", "address for actor remoting between nodes (host:port)")
	fl.StringVar(&f.replAddr, "replication-addr", "", "address for replicated writes from other members (host:port; default: --actor-addr's host, a free port, announced by gossip)")
	fl.StringSliceVar(&f.join, "join", nil, "gossip addresses of existing members to join (host:port,...)")
	fl.IntVar(&f.replication, "replication-factor", 3, "copies of each durable grain's storage kept on the members next in placement order (odd, 1-7); writes wait for a majority, so 3 survives one node; a lone node keeps one copy at no cost. 1 disables replication: a crashed node's grains wait for it")
	fl.DurationVar(&f.forgetAfter, "forget-failed-after", 0, "forget a member that has been failed (gone without leaving) this long, as 'stich cluster forget' does, e.g. 24h; 0 never. Must exceed any network partition to ride out: past it, each side forgets the other (docs/replication.md)")
	fl.DurationVar(&f.passivateAfter, "passivate-after", 5*time.Minute, "how long an idle grain stays in memory")
	fl.IntVar(&f.createLimit, "create-limit", 30, "sessions a user may create per minute, a third of them in any 10 s; refused with resource_exhausted and the retry delay (0 disables the limit)")
	fl.IntVar(&f.createDaily, "create-daily-limit", 1000, "sessions a user may create per 24 h (0 disables)")
	f.budgets.register(fl)
	fl.DurationVar(&f.shutdownGrace, "shutdown-grace", 20*time.Second, "how long a graceful shutdown may take")
	f.models.register(fl)
	f.nomadModels.register(fl)
	f.sandbox.register(fl)
	f.edge.register(fl)
	f.oauth.register(fl)
	fl.Uint64Var(&f.quota.StoredBytes, "session-max-bytes", 1<<30, "per-session quota: bytes of all its versions (each version's files counted in full); past it, edits and messages are refused with resource_exhausted; 0: no bound")
	fl.Uint32Var(&f.quota.Versions, "session-max-versions", 1000, "per-session quota: versions it records; 0: no bound")
	fl.Uint64Var(&f.quota.LogEvents, "session-max-log-events", 1_000_000, "per-session quota: events in its log (streamed chunks included, chunks compacted away not); 0: no bound")
	fl.DurationVar(&f.compactAfter, "session-compact-after", 2*time.Minute, "compact an idle session's log (drop the streamed chunks of files stored in a version) after it stays idle this long; also done when it leaves memory and near its log quota; negative: only then")
	fl.DurationVar(&f.scaffoldDelay, "scaffold-chunk-delay", 0, "pace the scaffold generator's streamed chunks like a model (e.g. 20ms); 0 streams at once")
	return cmd
}

// nodeConfig builds the cluster config from flags, reporting every problem.
func (f *serveFlags) nodeConfig(log *slog.Logger) (cluster.Config, error) {
	var errs []error
	host, portStr, err := net.SplitHostPort(f.gossipAddr)
	port := 0
	if err != nil {
		errs = append(errs, fmt.Errorf("--gossip-addr %q: %w", f.gossipAddr, err))
	} else if port, err = strconv.Atoi(portStr); err != nil || port < 0 || port > 65535 {
		errs = append(errs, fmt.Errorf("--gossip-addr %q: bad port", f.gossipAddr))
	}
	profile := f.gossipProfile
	if profile == "" {
		profile = "lan"
		if isLoopback(host) {
			profile = "local"
		}
	}
	var cfg cluster.Config
	switch profile {
	case "local":
		cfg = cluster.DefaultLocalConfig()
	case "lan":
		cfg = cluster.DefaultLANConfig()
	case "wan":
		cfg = cluster.DefaultWANConfig()
	default:
		errs = append(errs, fmt.Errorf("--gossip-profile %q: want local, lan or wan", f.gossipProfile))
		cfg = cluster.DefaultLocalConfig()
	}
	cfg.Name, cfg.Region, cfg.Zone, cfg.DataDir = f.nodeName, f.region, f.zone, f.data
	cfg.ActorAddr, cfg.Join, cfg.PassivateAfter, cfg.Logger, cfg.Version = f.actorAddr, f.join, f.passivateAfter, log, version
	cfg.HTTPAddr = f.http
	cfg.ReplicationFactor = f.replication
	if f.replAddr != "" {
		if _, p, err := net.SplitHostPort(f.replAddr); err != nil {
			errs = append(errs, fmt.Errorf("--replication-addr %q: %w", f.replAddr, err))
		} else if n, err := strconv.Atoi(p); err != nil || n < 0 || n > 65535 {
			errs = append(errs, fmt.Errorf("--replication-addr %q: bad port", f.replAddr))
		}
		cfg.ReplicationAddr = f.replAddr
	}
	cfg.ForgetFailedAfter = f.forgetAfter
	cfg.Gossip.BindAddr, cfg.Gossip.BindPort, cfg.Gossip.AdvertisePort = host, port, port
	if f.advertiseAddr != "" {
		ahost, aport, err := net.SplitHostPort(f.advertiseAddr)
		if p, perr := strconv.Atoi(aport); err != nil || perr != nil || p <= 0 || p > 65535 {
			errs = append(errs, fmt.Errorf("--advertise-addr %q: want host:port", f.advertiseAddr))
		} else {
			cfg.Gossip.AdvertiseAddr, cfg.Gossip.AdvertisePort = ahost, p
		}
	}
	if f.gossipKeyFile != "" {
		if f.gossipKey != "" {
			errs = append(errs, errors.New("give --gossip-key or --gossip-key-file, not both"))
		} else if b, err := os.ReadFile(f.gossipKeyFile); err != nil {
			errs = append(errs, fmt.Errorf("--gossip-key-file: %w", err))
		} else {
			f.gossipKey = strings.TrimSpace(string(b))
		}
	}
	switch n := countSet(f.tlsCert, f.tlsKey, f.tlsCA); {
	case n == 3:
		t, err := cluster.LoadTLS(f.tlsCert, f.tlsKey, f.tlsCA)
		if err != nil {
			errs = append(errs, fmt.Errorf("--tls-cert/--tls-key/--tls-ca: %w", err))
		}
		cfg.TLS = t
		if f.gossipKey == "" && !isLoopback(host) {
			errs = append(errs, errors.New("gossip off loopback needs a key: give --gossip-key-file (stich cluster certs writes gossip.key) or --gossip-key"))
		}
	case n > 0:
		errs = append(errs, errors.New("give all of --tls-cert, --tls-key and --tls-ca, or none"))
	}
	if f.gossipKey != "" {
		key, err := base64.StdEncoding.DecodeString(f.gossipKey)
		if err != nil || (len(key) != 16 && len(key) != 24 && len(key) != 32) {
			errs = append(errs, errors.New("--gossip-key must be base64 of 16, 24 or 32 bytes (e.g. `head -c 32 /dev/urandom | base64`)"))
		} else {
			cfg.Gossip.SecretKey = key
		}
	}
	if _, _, err := net.SplitHostPort(f.http); err != nil {
		errs = append(errs, fmt.Errorf("--http %q: %w", f.http, err))
	}
	if f.createLimit < 0 || f.createDaily < 0 {
		errs = append(errs, errors.New("--create-limit and --create-daily-limit must not be negative"))
	}
	errs = append(errs, f.sandbox.validate()...)
	errs = append(errs, f.budgets.validate()...)
	if _, err := f.edge.config(); err != nil {
		errs = append(errs, err)
	}
	if _, err := f.oauth.config(f.edge.auth, f.edge.publicURL); err != nil {
		errs = append(errs, err)
	}
	if strings.TrimSpace(f.data) == "" {
		errs = append(errs, errors.New("--data must name a folder"))
	}
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return cfg, usageError{errors.Join(errs...)}
	}
	return cfg, nil
}

func isLoopback(host string) bool {
	ip, err := netip.ParseAddr(host)
	return (err == nil && ip.IsLoopback()) || host == "localhost"
}

func countSet(vals ...string) (n int) {
	for _, v := range vals {
		if v != "" {
			n++
		}
	}
	return n
}

// nodeNameFile holds a node's generated name in its data folder.
const nodeNameFile = "node-name"

// stableNodeName returns the node's name kept in dataDir, making one the
// first time: the host name and a random suffix, so that two nodes on one
// host never share a name. A data folder that holds a store from before
// names were kept keeps the host name it was started with.
func stableNodeName(dataDir string, log *slog.Logger) (string, error) {
	path := filepath.Join(dataDir, nodeNameFile)
	b, err := os.ReadFile(path)
	if err == nil {
		name := strings.TrimSpace(string(b))
		if !nodeNameRE.MatchString(name) {
			return "", fmt.Errorf("%s holds %q, not a node name: fix it, delete it to make a new one, or give --node-name", path, name)
		}
		return name, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read node name: %w", err)
	}
	host, err := os.Hostname()
	if err != nil || !nodeNameRE.MatchString(host) {
		host = "stich"
	}
	name := host
	if _, err := os.Stat(filepath.Join(dataDir, "CURRENT")); err != nil {
		var suffix [3]byte
		if _, err := rand.Read(suffix[:]); err != nil {
			return "", err
		}
		name = fmt.Sprintf("%s-%x", host, suffix)
	}
	if err := os.WriteFile(path, []byte(name+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("keep node name: %w", err)
	}
	log.Info("generated this node's name; it is kept in the data folder", "node", name, "file", path)
	return name, nil
}

var nodeNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

func (f *serveFlags) createRule() (r ratelimit.Rule) {
	if f.createLimit == 0 {
		return r
	}
	r = rpc.DefaultCreateLimit()
	r.Limit = uint32(f.createLimit)
	r.BurstLimit = uint32(max(f.createLimit/3, 1))
	r.DailyLimit = uint32(f.createDaily)
	return r
}

// previewBase is the preview origin with no app label
// (http://preview.localhost:8081), or "" when previews are off.
func previewBase(o preview.Origins) string {
	if !o.Enabled() {
		return ""
	}
	if o.Port == "" {
		return o.Scheme + "://" + o.Domain
	}
	return o.Scheme + "://" + net.JoinHostPort(o.Domain, o.Port)
}

// serve runs a node until ctx is done. ready, if not nil, receives the
// server's address once it is listening.
func serve(ctx context.Context, f *serveFlags, log *slog.Logger, ready func(addr string)) error {
	// Every flag is checked before the data folder is touched: a mistyped
	// flag exits 2 and leaves nothing behind (not even a node-name file
	// in ./stich-data).
	generatedName := f.nodeName == ""
	if generatedName {
		f.nodeName = "unnamed" // validated with a stand-in; made below
	}
	cfg, err := f.nodeConfig(log)
	if generatedName {
		f.nodeName = ""
	}
	if err != nil {
		return err
	}
	if f.scaffoldDelay < 0 {
		return usageError{errors.New("--scaffold-chunk-delay must not be negative")}
	}
	stopModelRouting, err := f.nomadModels.start(ctx, &f.models, log)
	if err != nil {
		return err
	}
	defer stopModelRouting()
	providers, defaultProvider, err := f.models.providers(codegen.Scaffold{ChunkDelay: f.scaffoldDelay})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(f.data, 0o750); err != nil {
		return fmt.Errorf("create data folder: %w", err)
	}
	if generatedName {
		name, err := stableNodeName(f.data, log)
		if err != nil {
			return err
		}
		f.nodeName, cfg.Name = name, name
	}
	var endpoints []*stichv1.ModelEndpoint
	var actionModels []*stichv1.ActionModel
	var defaultModel string
	if mcfg, ok, err := f.models.load(); err == nil && ok {
		endpoints, actionModels, defaultModel = modelInfo(mcfg)
	}
	// Bind the API first, so the node gossips the address it really
	// serves on (port 0 picks one).
	ln, err := net.Listen("tcp", f.http)
	if err != nil {
		return fmt.Errorf("listen on --http %s: %w", f.http, err)
	}
	defer ln.Close()
	cfg.HTTPAddr = ln.Addr().String()
	ring, err := f.budgets.ring()
	if err != nil {
		return usageError{err}
	}
	previewTickets, err := previewSigner(ring, cfg.Gossip.SecretKey, len(f.join) > 0, log)
	if err != nil {
		return err
	}
	acfg := actors.Config{Cluster: cfg, Providers: providers, DefaultProvider: defaultProvider, Quota: f.quota, CompactLogAfter: f.compactAfter,
		NodeKeys: ring, OwnKeyProvider: ownKeyProvider, DailyModelBudgetUSD: f.budgets.budget(f.edge.auth), BuildLimit: f.budgets.buildRule()}
	var previewLn net.Listener
	var buildURLs http.Handler // --sandbox nomad: the builds' signed URLs
	if f.sandbox.previewHTTP != "off" {
		if previewLn, err = net.Listen("tcp", f.sandbox.previewHTTP); err != nil {
			return fmt.Errorf("listen on --preview-http %s: %w", f.sandbox.previewHTTP, err)
		}
		defer previewLn.Close()
		if acfg.Previews, err = f.sandbox.origins(previewLn.Addr().String()); err != nil {
			return usageError{err}
		}
		for _, ui := range append(f.sandbox.frameAncestors(cfg.HTTPAddr), cfg.HTTPAddr) {
			if u, err := url.Parse(ui); err == nil && u.Host != "" && acfg.Previews.SameSite(u.Host) || acfg.Previews.SameSite(ui) {
				return usageError{fmt.Errorf("--preview-domain %s is the same site as the UI's %s: apps could then read the UI's cookies; use a domain apart", acfg.Previews.Domain, ui)}
			}
		}
		if f.sandbox.mode == "nomad" {
			acfg.Builds, buildURLs, acfg.BuildsDisabled = f.sandbox.nomad.builds(f.nomadModels.addr, f.nomadModels.token, cfg.HTTPAddr)
		} else {
			acfg.Builds, acfg.BuildsDisabled = f.sandbox.builds(f.data, log)
		}
	} else {
		acfg.BuildsDisabled = "previews are off on this node (--preview-http off)"
	}
	if acfg.Builds == nil {
		log.Warn("generated apps will not be type-checked or previewed", "reason", acfg.BuildsDisabled)
	} else if acfg.Runcheck = f.sandbox.runtimeChecker(log); acfg.Runcheck != nil {
		defer acfg.Runcheck.Close()
	}
	rt, err := actors.Start(ctx, acfg)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), f.shutdownGrace)
		defer cancel()
		if err := rt.Shutdown(sctx); err != nil {
			log.Error("node shutdown", "err", err)
		}
	}()
	ctx, leave := context.WithCancel(ctx)
	defer leave()
	edge, err := f.edge.config()
	if err != nil {
		return usageError{err}
	}
	oauthCfg, err := f.oauth.config(f.edge.auth, f.edge.publicURL)
	if err != nil {
		return usageError{err}
	}
	accounts, err := f.edge.accounts()
	if err != nil {
		return usageError{err}
	}
	srv, err := rpc.New(rt, rpc.Config{Addr: f.http, Edge: edge, Accounts: accounts, Listener: ln, CreateLimit: f.createRule(),
		MessageLimit: f.budgets.messageRule(), SaveLimit: f.budgets.saveRule(), Logger: log, Version: version,
		ModelEndpoints: endpoints, ActionModels: actionModels, DefaultModel: defaultModel, Previews: acfg.Previews,
		SignedPrefix: nomad.BuildPathPrefix, Signed: buildURLs, OAuth: oauthCfg, PreviewTickets: previewTickets,
		OnLeave: func() {
			log.Info("leave requested by an operator")
			leave()
		}})
	if err != nil {
		return err
	}
	if err := srv.Listen(); err != nil {
		return err
	}
	if err := ensureOwner(ctx, srv, f.nodeName, f.embedded, log); err != nil {
		return fmt.Errorf("owner account: %w", err)
	}
	if f.embedded {
		// NB: the key is this node's only while it serves: a node started
		// later on the same port (another process's, or this process's
		// next embedded node) must not be sent it.
		defer embeddedTokens.Delete(srv.Addr())
	}
	signIn := ""
	if !f.embedded {
		link, err := srv.NewSignInLink()
		if err != nil {
			return err
		}
		signIn = "http://" + srv.Addr() + link
	}
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve() }()
	var previewSrv *http.Server
	if previewLn != nil {
		previewSrv = &http.Server{Handler: rpc.NewPreviewHandler(rt, rpc.PreviewConfig{
			Origins: acfg.Previews, FrameAncestors: f.sandbox.frameAncestors(srv.Addr()), Logger: log, Tickets: previewTickets}), ReadHeaderTimeout: 10 * time.Second,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
		go func() {
			if err := previewSrv.Serve(previewLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("preview server: %w", err)
			}
		}()
	}
	log.Info("stich is ready", "url", "http://"+srv.Addr(), "data", f.data, "provider", rt.DefaultProvider().Label(),
		"preview_url", acfg.Previews.URL("SESSION"), "preview_domain", previewBase(acfg.Previews), "builds", acfg.Builds != nil,
		"builds_off", acfg.BuildsDisabled, "sign_in_url", signIn)
	if signIn != "" {
		log.Info("open this link to sign in to the web UI (it works once, for 24 h)", "url", signIn)
	}
	if ready != nil {
		ready(srv.Addr())
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "grace", f.shutdownGrace)
	sctx, cancel := context.WithTimeout(context.Background(), f.shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("http shutdown", "err", err)
	}
	if previewSrv != nil {
		if err := previewSrv.Shutdown(sctx); err != nil {
			log.Warn("preview server shutdown", "err", err)
		}
	}
	return <-errc
}

// previewTicketPurpose names the keys derived for preview tickets.
const previewTicketPurpose = "preview-ticket"

// previewSigner returns the keys of preview tickets and cookies
// (rpc/previewauth.go), which every node of a cluster must share: derived
// from the node keys (--node-key-file, $STICH_NODE_KEY) when there are
// some, else from the gossip key, else a random key of this process (a
// one-node cluster; with --join and neither key, previews open only on
// the node whose API minted the ticket, and the node says so).
func previewSigner(ring *nodekey.Ring, gossipKey []byte, joins bool, log *slog.Logger) (*preview.Signer, error) {
	switch {
	case ring != nil:
		var keys []preview.SignKey
		for _, k := range ring.Derive(previewTicketPurpose) {
			keys = append(keys, preview.SignKey{ID: k.ID, Secret: k.Raw})
		}
		return preview.NewSigner(keys...)
	case len(gossipKey) > 0:
		m := hmac.New(sha256.New, gossipKey)
		m.Write([]byte("stich gossip key derive\x00" + previewTicketPurpose))
		return preview.NewSigner(preview.SignKey{ID: "gossip", Secret: m.Sum(nil)})
	}
	if joins {
		log.Warn("no node key or gossip key: preview tickets are signed with a key of this node alone, so a preview opens only through the node that served the UI; give every node the same --node-key-file")
	}
	return rpc.RandomPreviewSigner(), nil
}
