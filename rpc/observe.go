package rpc

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/stichdev/stich/actors"
)

// observer logs every RPC and counts it in metrics.
type observer struct {
	log      *slog.Logger
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newObserver(log *slog.Logger, reg prometheus.Registerer) *observer {
	o := &observer{
		log: log,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stich_rpc_requests_total", Help: "RPCs handled, by procedure and Connect code.",
		}, []string{"procedure", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "stich_rpc_duration_seconds", Help: "Unary RPC latency.", Buckets: prometheus.DefBuckets,
		}, []string{"procedure"}),
	}
	reg.MustRegister(o.requests, o.duration)
	return o
}

func codeOf(err error) string {
	if err == nil {
		return "ok"
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce.Code().String()
	}
	return connect.CodeUnknown.String()
}

func (o *observer) done(ctx context.Context, proc, peer string, start time.Time, err error) {
	code := codeOf(err)
	o.requests.WithLabelValues(proc, code).Inc()
	level := slog.LevelInfo
	if code == connect.CodeInternal.String() || code == connect.CodeUnknown.String() {
		level = slog.LevelError
	}
	if !o.log.Enabled(ctx, level) {
		return
	}
	attrs := []any{"procedure", proc, "code", code, "peer", peer, "duration", time.Since(start).Round(time.Microsecond)}
	if err != nil {
		attrs = append(attrs, "err", err.Error())
	}
	o.log.Log(ctx, level, "rpc", attrs...)
}

func (o *observer) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		start := time.Now()
		res, err := next(ctx, req)
		o.duration.WithLabelValues(req.Spec().Procedure).Observe(time.Since(start).Seconds())
		o.done(ctx, req.Spec().Procedure, req.Peer().Addr, start, err)
		return res, err
	}
}

func (o *observer) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (o *observer) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		start := time.Now()
		err := next(ctx, conn)
		o.done(ctx, conn.Spec().Procedure, conn.Peer().Addr, start, err)
		return err
	}
}

// grainCollector exports live grain counts per kind.
type grainCollector struct{ rt *actors.Runtime }

var (
	grainDesc       = prometheus.NewDesc("stich_grains_active", "Live grain activations on this node, by kind.", []string{"kind"}, nil)
	activationsDesc = prometheus.NewDesc("stich_grain_activations_total", "Grain activations started on this node.", nil, nil)
	transfersDesc   = prometheus.NewDesc("stich_grain_transfers_total", "Grains whose storage this node handed to another node.", nil, nil)
)

// Replication counters (docs/replication.md), exported when replication
// is on.
var (
	replClaimsDesc   = prometheus.NewDesc("stich_replication_claims_total", "Grain activations that obtained an epoch from a majority of their replicas.", nil, nil)
	replWritesDesc   = prometheus.NewDesc("stich_replication_writes_total", "Replicated writes of grains owned here, by result (acked by a majority, or failed).", []string{"result"}, nil)
	replFollowDesc   = prometheus.NewDesc("stich_replication_follower_writes_total", "Other owners' writes applied here.", nil, nil)
	replGroupsDesc   = prometheus.NewDesc("stich_replication_follower_commits_total", "Synced commits applying other owners' writes (writes per commit = group commit).", nil, nil)
	replSnapDesc     = prometheus.NewDesc("stich_replication_snapshots_total", "Whole grain copies sent to other members, by reason (behind: a follower missed writes; repair: anti-entropy).", []string{"reason"}, nil)
	replFailuresDesc = prometheus.NewDesc("stich_replication_stream_failures_total", "Replication streams to other members that failed (peer gone, silent or misbehaving).", nil, nil)
)

func (c grainCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- grainDesc
	ch <- activationsDesc
	ch <- transfersDesc
	for _, d := range []*prometheus.Desc{replClaimsDesc, replWritesDesc, replFollowDesc, replGroupsDesc, replSnapDesc, replFailuresDesc} {
		ch <- d
	}
}

func (c grainCollector) Collect(ch chan<- prometheus.Metric) {
	for kind, n := range c.rt.Node.GrainCounts() {
		ch <- prometheus.MustNewConstMetric(grainDesc, prometheus.GaugeValue, float64(n), kind)
	}
	activations, transfers := c.rt.Node.Counters()
	ch <- prometheus.MustNewConstMetric(activationsDesc, prometheus.CounterValue, float64(activations))
	ch <- prometheus.MustNewConstMetric(transfersDesc, prometheus.CounterValue, float64(transfers))
	if st, ok := c.rt.Node.ReplicationStats(); ok {
		counter := func(d *prometheus.Desc, v uint64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
		}
		counter(replClaimsDesc, st.Claims)
		counter(replWritesDesc, st.WritesAcked, "acked")
		counter(replWritesDesc, st.WritesFailed, "failed")
		counter(replFollowDesc, st.FollowerWrites)
		counter(replGroupsDesc, st.FollowerGroups)
		counter(replSnapDesc, st.SnapshotsSent, "behind")
		counter(replSnapDesc, st.RepairInstalls, "repair")
		counter(replFailuresDesc, st.StreamFailures)
	}
}
