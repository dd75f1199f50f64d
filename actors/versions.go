package actors

import (
	"errors"
	"fmt"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/stichdev/stich/cluster"
	"github.com/stichdev/stich/pipeline"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
)

// Storage of versions (their rules are in package pipeline):
// "ver/<10-digit number>" records and content-addressed "blob/<sha256>"
// file contents shared by all versions.
const (
	prefixVersion = "ver/"
	prefixBlob    = "blob/"
)

func versionKey(n uint32) string { return fmt.Sprintf("%s%010d", prefixVersion, n) }

func (g *sessionGrain) loadVersion(n uint32) (*actorsv1.VersionRecord, error) {
	b, err := g.ref.Store.Get(versionKey(n))
	if errors.Is(err, cluster.ErrNotFound) {
		return nil, &Error{Code: actorsv1.ErrorCode_ERROR_CODE_NOT_FOUND, Message: pipeline.VersionNotFound(g.s.Session, n)}
	}
	if err != nil {
		return nil, err
	}
	r := &actorsv1.VersionRecord{}
	if err := proto.Unmarshal(b, r); err != nil {
		return nil, fmt.Errorf("actors: version %d: %w", n, err)
	}
	return r, nil
}

func (g *sessionGrain) blob(sha string) (string, error) {
	b, err := g.ref.Store.Get(prefixBlob + sha)
	if err != nil {
		return "", fmt.Errorf("actors: blob %s: %w", sha, err)
	}
	return string(b), nil
}

// writeVersion puts a version record in b, with the blobs its previous
// version does not hold: contents the batch writes come from e.Contents,
// the others from the stored files.
func (g *sessionGrain) writeVersion(b *cluster.Batch, e pipeline.RecordVersion) error {
	rec := e.Record
	prev := map[string]bool{}
	if rec.Number > 1 {
		r, err := g.loadVersion(rec.Number - 1)
		if err != nil {
			return err
		}
		for _, sha := range r.GetFiles() {
			prev[sha] = true
		}
	}
	written := map[string]bool{}
	for p, sha := range rec.GetFiles() {
		if prev[sha] || written[sha] {
			continue // stored by an earlier version
		}
		content, ok := e.Contents[p]
		if !ok {
			var err error
			if content, err = g.ref.Store.Get(prefixFile + p); err != nil {
				return fmt.Errorf("actors: read %q for version %d: %w", p, rec.Number, err)
			}
		}
		b.Put(prefixBlob+sha, content)
		written[sha] = true
	}
	data, err := proto.Marshal(rec)
	if err != nil {
		return err
	}
	b.Put(versionKey(rec.Number), data)
	return nil
}

func (g *sessionGrain) onListVersions(ctx actor.Context) {
	reply := &actorsv1.ListVersionsReply{}
	err := g.ref.Store.List(prefixVersion, "", 0, func(_ string, v []byte) error {
		r := &actorsv1.VersionRecord{}
		if err := proto.Unmarshal(v, r); err != nil {
			return err
		}
		reply.Versions = append(reply.Versions, pipeline.VersionProto(r))
		return nil
	})
	if err != nil {
		g.respond(ctx, "list versions", pipeline.Output{}, err)
		return
	}
	ctx.Respond(reply)
}

func (g *sessionGrain) onDiffVersions(ctx actor.Context, m *actorsv1.DiffVersions) {
	from, err := g.loadVersion(m.GetFrom())
	if err != nil {
		g.respond(ctx, "diff versions", pipeline.Output{}, err)
		return
	}
	to, err := g.loadVersion(m.GetTo())
	if err != nil {
		g.respond(ctx, "diff versions", pipeline.Output{}, err)
		return
	}
	files, err := pipeline.Diff(from, to, g.blob)
	if err != nil {
		g.respond(ctx, "diff versions", pipeline.Output{}, err)
		return
	}
	ctx.Respond(&actorsv1.DiffVersionsReply{Files: files})
}

// onRollback loads the version and the contents that differ, for the
// pipeline to restore. An active session is refused by the pipeline
// before anything is loaded.
func (g *sessionGrain) onRollback(ctx actor.Context, m *actorsv1.RollbackSession) {
	in := pipeline.Rollback{}
	if !pipeline.Active(g.s.Session.Phase) {
		target, err := g.loadVersion(m.GetVersion())
		if err != nil {
			g.respond(ctx, "rollback", pipeline.Output{}, err)
			return
		}
		in = pipeline.Rollback{Target: target, Blobs: map[string]string{}}
		for _, sha := range pipeline.RollbackBlobs(g.s.Session, target) {
			if in.Blobs[sha], err = g.blob(sha); err != nil {
				g.respond(ctx, "rollback", pipeline.Output{}, err)
				return
			}
		}
	}
	out, err := g.step(ctx, in)
	g.respond(ctx, "rollback", out, err)
}
