package pipeline

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/stichdev/stich/codegen"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// TestInvariantsUnderRandomInputs feeds random sequences of inputs (the
// worker's output in order, users' requests, stale and broken worker
// output, provider failures, crashes) and checks after every step that
// the invariants of the package doc hold: seqs contiguous, one terminal
// event per piece of work, versions immutable, a stopped session does no
// work; and at the end that storage and state agree.
func TestInvariantsUnderRandomInputs(t *testing.T) {
	var cards, empty int
	for seed := uint64(1); seed <= 300; seed++ {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			c, e := randomRun(t, seed)
			cards, empty = cards+c, empty+e
		})
	}
	// The change-card checks saw both kinds of card.
	if cards == 0 || empty == 0 || empty == cards {
		t.Fatalf("%d change cards, %d without a version: the runs do not cover both", cards, empty)
	}
}

func randomRun(t *testing.T, seed uint64) (cards, empty int) {
	r := rand.New(rand.NewPCG(seed, 0))
	h := newHarness(t)
	h.cfg.Builds = r.IntN(2) == 0
	h.cfg.MaxFixRounds = r.IntN(3)
	h.cfg.CompactTurns, h.cfg.CompactKeep = 3, 1
	if h.cfg.Builds {
		h.check = func(_ context.Context, files map[string]string) *actorsv1.SandboxCheckReply {
			return &actorsv1.SandboxCheckReply{PreviewUrl: "http://p/", Fixed: map[string]string{"a.ts": "export const a = 1;\n"}}
		}
	}
	recorded := map[uint32]*actorsv1.VersionRecord{} // as first seen, and the record itself
	seen := map[uint32]*actorsv1.VersionRecord{}
	h.onOutput = func(before, after State, in Input, out Output) {
		t.Helper()
		checkOutput(t, before, after, out)
		if out.Refusal != nil {
			return
		}
		idle := before.Session == nil || !Active(before.Session.Phase)
		for _, e := range out.Effects {
			switch e := e.(type) {
			case RunStep:
				if !idle {
					continue
				}
				switch in.(type) {
				case Create, Resume:
				case Message:
					if before.Session.GetPhase() != stichv1.Phase_PHASE_COMPLETED {
						t.Fatalf("a message started work on a %v session", before.Session.GetPhase())
					}
				default:
					t.Fatalf("%T started work on a %v session", in, before.Session.GetPhase())
				}
			case RecordVersion:
				n := e.Record.GetNumber()
				if _, ok := recorded[n]; ok {
					t.Fatalf("version %d recorded twice", n)
				}
				recorded[n], seen[n] = proto.Clone(e.Record).(*actorsv1.VersionRecord), e.Record
			}
		}
	}
	texts := []string{"add e", "drop c", "make it blue"}
	for i := 0; i < 200; i++ {
		if h.s.Session == nil {
			h.step(create())
			continue
		}
		switch k := r.IntN(100); {
		case k < 50:
			h.next()
		case k < 58:
			key := ""
			if r.IntN(2) == 0 {
				key = fmt.Sprint("k", r.IntN(4))
			}
			h.step(Message{Text: texts[r.IntN(len(texts))], Key: key})
		case k < 63:
			h.step(Stop{})
		case k < 68:
			h.step(Resume{})
		case k < 73:
			h.crash()
		case k < 77:
			h.step(SaveFile{Path: "a.ts", Content: fmt.Sprint("export const a = ", r.IntN(3), ";\n")})
		case k < 80:
			if n := h.s.Session.GetVersions(); n > 0 {
				target := h.db.versions[uint32(1+r.IntN(int(n)))]
				blobs := map[string]string{}
				for _, sha := range RollbackBlobs(h.s.Session, target) {
					blobs[sha] = h.db.blobs[sha]
				}
				h.step(Rollback{Target: target, Blobs: blobs})
			}
		case k < 83:
			h.step(PreviewReport{Report: &actorsv1.PreviewReport{Kind: "error", Message: "boom"}})
		case k < 86:
			h.step(Usage{Action: "x", Model: "m", Usage: codegen.Usage{Requests: 1}})
		case k < 89:
			h.step(Work{Run: h.s.Run - uint64(r.IntN(2)), Kind: WorkLog, Data: "maybe stale"})
		case k < 92:
			h.prov.failNext = errBoom
		case k < 94:
			h.step(Work{Run: h.s.Run, Kind: WorkFileDone, Path: "never-started.ts"})
		case k < 96:
			h.step(Failed{Err: errBoom})
		default:
			h.step(create()) // refused: it exists
		}
	}
	// Settle: whatever happened, the session can finish its work.
	h.prov.failNext = nil
	for range 3 {
		h.drain()
		if p := h.phase(); p == stichv1.Phase_PHASE_STOPPED || p == stichv1.Phase_PHASE_FAILED {
			h.step(Resume{})
		}
	}
	h.drain()
	if h.phase() != stichv1.Phase_PHASE_COMPLETED {
		t.Fatalf("seed %d: phase %v after settling", seed, h.phase())
	}
	// Two refinements of the idle app: the first writes a new e.ts, the
	// second repeats it, so it changes nothing.
	h.prov.write = map[string]string{"e.ts": fmt.Sprintf("export const seed = %d;\n", seed)}
	for range 2 {
		h.step(Message{Text: "add e"})
		h.drain()
	}
	if h.phase() != stichv1.Phase_PHASE_COMPLETED {
		t.Fatalf("seed %d: phase %v after the last refinements", seed, h.phase())
	}
	// Storage and state agree.
	if !proto.Equal(h.db.session, h.s.Session) {
		t.Fatalf("seed %d: stored state differs", seed)
	}
	if len(h.db.files) != len(h.s.Session.GetFiles()) {
		t.Fatalf("seed %d: %d stored files, state has %d", seed, len(h.db.files), len(h.s.Session.GetFiles()))
	}
	for p, info := range h.s.Session.GetFiles() {
		if Sha256(h.db.files[p]) != info.GetSha256() {
			t.Fatalf("seed %d: stored %s does not match the state", seed, p)
		}
	}
	// Versions are immutable: no record changed after it was output.
	for n, rec := range seen {
		if !proto.Equal(rec, recorded[n]) {
			t.Fatalf("seed %d: version %d changed after it was recorded", seed, n)
		}
	}
	if uint32(len(recorded)) != h.s.Session.GetVersions() {
		t.Fatalf("seed %d: %d versions recorded, state counts %d", seed, len(recorded), h.s.Session.GetVersions())
	}
	// Every piece of work ended once: terminal events pair with the
	// starts of work (creation, a message to a completed session, a resume).
	starts, ends := 0, 0
	active := false
	for _, ev := range h.db.log {
		switch {
		case ev.GetGenerationStarted() != nil, ev.GetGenerationResumed() != nil && !active,
			ev.GetPhaseChanged().GetName() == "Refinement" && ev.GetPhaseChanged().GetPhase() == stichv1.Phase_PHASE_PLANNING && !active:
			starts++
			active = true
		case isTerminal(ev):
			ends++
			active = false
		}
	}
	if starts != ends {
		t.Fatalf("seed %d: %d pieces of work started, %d ended", seed, starts, ends)
	}
	// A change card ends a refinement: Completed follows it; it names the
	// version recorded right before it, or none, and then no version was
	// recorded since the work started.
	for i, ev := range h.db.log {
		card := ev.GetChangeCard()
		if card == nil {
			continue
		}
		cards++
		if card.GetVersion() == 0 {
			empty++
		}
		if i+1 >= len(h.db.log) || h.db.log[i+1].GetCompleted() == nil {
			t.Fatalf("seed %d: change card at seq %d is not followed by Completed", seed, ev.GetSeq())
		}
		prev := h.db.log[i-1].GetVersionCreated()
		switch {
		case card.GetVersion() == 0 && prev != nil:
			t.Fatalf("seed %d: a card without a version follows version %d", seed, prev.GetVersion().GetNumber())
		case card.GetVersion() != 0 && prev.GetVersion().GetNumber() != card.GetVersion():
			t.Fatalf("seed %d: card names version %d, the version before it is %v", seed, card.GetVersion(), prev)
		case card.GetVersion() != 0 && len(card.GetFiles()) == 0:
			t.Fatalf("seed %d: version %d recorded for a card with no file changed", seed, card.GetVersion())
		}
	}
	return cards, empty
}
