package pipeline

import (
	"strings"
	"testing"

	"github.com/stichdev/stich/codegen"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// generated runs a whole generation and returns the harness, idle.
func generated(t *testing.T) *harness {
	t.Helper()
	h := newHarness(t)
	h.step(create())
	h.drain()
	checkApp(t, h, wantFiles)
	return h
}

// refine sends msg, answered by r, and runs the refinement to its end.
func refine(t *testing.T, h *harness, msg string, r *codegen.Refinement, write map[string]string) {
	t.Helper()
	h.prov.refinement, h.prov.write = r, write
	if out := h.step(Message{Text: msg}); out.Refusal != nil {
		t.Fatalf("message refused: %v", out.Refusal)
	}
	h.drain()
	if h.phase() != stichv1.Phase_PHASE_COMPLETED {
		t.Fatalf("phase %v (error %q), want completed", h.phase(), h.s.Session.GetError())
	}
}

// lastCard is the log's last change card, which must come right before
// the last Completed.
func lastCard(t *testing.T, h *harness) *stichv1.ChangeCard {
	t.Helper()
	n := len(h.db.log)
	if n < 2 || h.db.log[n-1].GetCompleted() == nil || h.db.log[n-2].GetChangeCard() == nil {
		t.Fatalf("the work does not end with a change card then Completed: %v, %v", h.db.log[n-2], h.db.log[n-1])
	}
	return h.db.log[n-2].GetChangeCard()
}

func changes(c *stichv1.ChangeCard) map[string]*stichv1.FileChange {
	out := map[string]*stichv1.FileChange{}
	for _, f := range c.GetFiles() {
		out[f.GetPath()] = f
	}
	return out
}

func phase(paths ...string) *stichv1.PhasePlan {
	ph := &stichv1.PhasePlan{Name: "Change", LastPhase: true}
	for _, p := range paths {
		ph.Files = append(ph.Files, &stichv1.FilePlan{Path: p})
	}
	return ph
}

// A regenerated file the user edited gets the change merged into the
// user's version; the card names every file changed, with line counts.
func TestRefinementMergesUserEdits(t *testing.T) {
	h := generated(t)
	mine := wantFiles["a.ts"] + "export const mine = 1;\n"
	if out := h.step(SaveFile{Path: "a.ts", Content: mine}); out.Refusal != nil {
		t.Fatal(out.Refusal)
	}
	if h.s.Session.GetUserEdits()["a.ts"] != Sha256(wantFiles["a.ts"]) {
		t.Fatalf("user edits %v: a.ts's base is not its generated content", h.s.Session.GetUserEdits())
	}
	versions := h.s.Session.GetVersions()
	regenerated := "// header\n" + wantFiles["a.ts"]
	refine(t, h, "add a header", &codegen.Refinement{Reply: "ok", Phase: phase("a.ts", "e.ts"), Deleted: []string{"c.ts"}},
		map[string]string{"a.ts": regenerated, "e.ts": "one\ntwo\n"})

	if want := "// header\n" + mine; h.db.files["a.ts"] != want {
		t.Fatalf("a.ts = %q, want the change on top of the user's edit %q", h.db.files["a.ts"], want)
	}
	card := lastCard(t, h)
	got := changes(card)
	if len(got) != 3 {
		t.Fatalf("card files %v, want a.ts, c.ts, e.ts", card.GetFiles())
	}
	if a := got["a.ts"]; a.GetChange() != "modified" || !a.GetMergedUserEdits() || a.GetLines().GetAdded() != 1 || a.GetLines().GetRemoved() != 0 {
		t.Errorf("a.ts change %v, want modified +1 -0 on the user's edits", a)
	}
	if e := got["e.ts"]; e.GetChange() != "added" || e.GetLines().GetAdded() != 2 {
		t.Errorf("e.ts change %v, want added +2", e)
	}
	if c := got["c.ts"]; c.GetChange() != "removed" {
		t.Errorf("c.ts change %v, want removed", c)
	}
	if len(card.GetNotDone()) != 0 {
		t.Errorf("not done %v, want nothing", card.GetNotDone())
	}
	if card.GetVersion() != versions+1 || h.s.Session.GetVersions() != versions+1 {
		t.Errorf("card version %d, session versions %d; want %d", card.GetVersion(), h.s.Session.GetVersions(), versions+1)
	}
	if card.GetRequest() != "add a header" {
		t.Errorf("card request %q", card.GetRequest())
	}
	// The next merge starts from the new generated content, stored.
	base := h.s.Session.GetUserEdits()["a.ts"]
	if base != Sha256(regenerated) || h.db.blobs[base] != regenerated {
		t.Errorf("a.ts's base %s (stored %q), want the regenerated content", base, h.db.blobs[base])
	}
	if h.s.Session.GetRefining() || len(h.s.Session.GetWorkBase()) > 0 || len(h.s.Session.GetWorkNotes()) > 0 {
		t.Error("the refinement's card state outlives it")
	}
}

// A change that overlaps the user's edits, or deletes an edited file, is
// not applied, and the card says so.
func TestRefinementKeepsConflictingEdits(t *testing.T) {
	h := generated(t)
	mineA := "export const x = \"mine\";\n"
	mineC := wantFiles["c.ts"] + "// keep me\n"
	h.step(SaveFile{Path: "a.ts", Content: mineA})
	h.step(SaveFile{Path: "c.ts", Content: mineC})
	versions := h.s.Session.GetVersions()
	refine(t, h, "rename x", &codegen.Refinement{Reply: "ok", Phase: phase("a.ts", "e.ts"), Deleted: []string{"c.ts"}},
		map[string]string{"a.ts": "export const y = \"a.ts\";\n", "e.ts": "e\n"})

	if h.db.files["a.ts"] != mineA || h.db.files["c.ts"] != mineC {
		t.Fatalf("a.ts = %q, c.ts = %q: the user's edits were not kept", h.db.files["a.ts"], h.db.files["c.ts"])
	}
	card := lastCard(t, h)
	got := changes(card)
	if len(got) != 1 || got["e.ts"].GetChange() != "added" {
		t.Fatalf("card files %v, want only e.ts added", card.GetFiles())
	}
	notes := strings.Join(card.GetNotDone(), "\n")
	if !strings.Contains(notes, "kept your edits in a.ts") || !strings.Contains(notes, "kept c.ts") {
		t.Fatalf("not done %q, want the kept a.ts and c.ts", notes)
	}
	if card.GetVersion() != versions+1 {
		t.Errorf("card version %d, want %d", card.GetVersion(), versions+1)
	}
}

// A refinement that changes nothing completes with a card and no version.
func TestNoOpRefinementMakesNoVersion(t *testing.T) {
	h := generated(t)
	versions := h.s.Session.GetVersions()
	records := len(h.db.versions)
	refine(t, h, "make it better", &codegen.Refinement{Reply: "ok", Phase: phase("a.ts")}, nil) // a.ts written as it is
	card := lastCard(t, h)
	if len(card.GetFiles()) != 0 || card.GetVersion() != 0 {
		t.Fatalf("card %v, want no files and no version", card)
	}
	if h.s.Session.GetVersions() != versions || len(h.db.versions) != records {
		t.Fatalf("versions %d (records %d), want %d: a no-op made a version", h.s.Session.GetVersions(), len(h.db.versions), versions)
	}
	if n := h.count(func(ev *stichv1.SessionEvent) bool { return ev.GetVersionCreated() != nil }); n != int(versions) {
		t.Fatalf("%d VersionCreated events, want %d", n, versions)
	}
}

// A provider that edits the current files (a model, shown the user's
// version) writes on top of them: nothing is merged or held back.
func TestModelRefinementEditsOnTopOfUserEdits(t *testing.T) {
	h := generated(t)
	mine := "export const x = \"mine\";\n"
	h.step(SaveFile{Path: "a.ts", Content: mine})
	h.prov.editsCurrent = true
	onTop := mine + "export const y = 2;\n"
	refine(t, h, "add y", &codegen.Refinement{Reply: "ok", Phase: phase("a.ts")}, map[string]string{"a.ts": onTop})
	if h.db.files["a.ts"] != onTop {
		t.Fatalf("a.ts = %q, want the model's %q", h.db.files["a.ts"], onTop)
	}
	a := changes(lastCard(t, h))["a.ts"]
	if a.GetChange() != "modified" || a.GetLines().GetAdded() != 1 || a.GetLines().GetRemoved() != 0 {
		t.Fatalf("a.ts change %v, want modified +1 -0", a)
	}
}

// Saving a file back to its generated content forgets the edit; a
// rollback that restores it does too.
func TestUserEditsForgottenWhenUndone(t *testing.T) {
	h := generated(t)
	h.step(SaveFile{Path: "a.ts", Content: "mine\n"})
	if _, ok := h.s.Session.GetUserEdits()["a.ts"]; !ok {
		t.Fatal("the edit was not recorded")
	}
	h.step(SaveFile{Path: "a.ts", Content: wantFiles["a.ts"]})
	if _, ok := h.s.Session.GetUserEdits()["a.ts"]; ok {
		t.Fatal("an edit undone by hand is still recorded")
	}
	h.step(SaveFile{Path: "a.ts", Content: "mine\n"})
	first := h.db.versions[1]
	blobs := map[string]string{}
	for _, sha := range RollbackBlobs(h.s.Session, first) {
		blobs[sha] = h.db.blobs[sha]
	}
	if out := h.step(Rollback{Target: first, Blobs: blobs}); out.Refusal != nil {
		t.Fatal(out.Refusal)
	}
	if _, ok := h.s.Session.GetUserEdits()["a.ts"]; ok {
		t.Fatal("an edit undone by a rollback is still recorded")
	}
}

// What the provider says it did not do reaches the card, even when nothing
// changed.
func TestProviderNotDoneReachesTheCard(t *testing.T) {
	h := generated(t)
	refine(t, h, "add a chart", &codegen.Refinement{Reply: "ok", Phase: phase("a.ts"), NotDone: []string{"a chart needs a model", " "}}, nil)
	card := lastCard(t, h)
	if len(card.GetFiles()) != 0 || card.GetVersion() != 0 {
		t.Fatalf("card %v, want no change", card)
	}
	if got := card.GetNotDone(); len(got) != 1 || got[0] != "a chart needs a model" {
		t.Fatalf("not done %q, want the provider's note", got)
	}
}
