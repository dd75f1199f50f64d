package fixer

import (
	"context"
	"strings"
	"testing"

	"github.com/stichdev/stich/sandbox"
	"github.com/stichdev/stich/scaffold"
)

// TestRepairInstallsUndeclaredPackage: an app imports clsx without
// declaring it. Repair adds it to package.json at its known-good range,
// installs it (a fresh lockfile replaces the stale one) and type-checks
// clean.
func TestRepairInstallsUndeclaredPackage(t *testing.T) {
	e := setupEnv(t)
	files, err := scaffold.Files(scaffold.Plan(bases["landing"], nil))
	if err != nil {
		t.Fatal(err)
	}
	app := files["src/App.tsx"]
	files["src/App.tsx"] = "import { clsx } from \"clsx\";\n" + app + "\nexport const shellClass = clsx(\"shell\", { wide: true });\n"
	ctx := context.Background()
	id := "install-undeclared"
	if err := e.local.Prepare(ctx, id); err != nil {
		t.Fatal(err)
	}
	defer e.local.Cleanup(ctx, id)
	if err := e.local.WriteFiles(ctx, id, files); err != nil {
		t.Fatal(err)
	}
	if _, err := e.local.Install(ctx, id, sandbox.InstallOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err := e.fixer.Repair(ctx, id, files, RepairOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Initial) == 0 || res.Initial[0].Code != 2307 {
		t.Fatalf("initial diagnostics %v, want TS2307 for clsx", res.Initial)
	}
	if len(res.Remaining) != 0 || len(res.NeedsModel) != 0 {
		t.Fatalf("remaining %v, needs a model %v", res.Remaining, res.NeedsModel)
	}
	if !strings.Contains(res.Files["package.json"], `"clsx": "^2.1.1"`) {
		t.Errorf("package.json:\n%s", res.Files["package.json"])
	}
	if lock := res.Files["package-lock.json"]; !strings.Contains(lock, `"node_modules/clsx"`) || lock == files["package-lock.json"] {
		t.Errorf("package-lock.json was not rewritten by the install (%d bytes)", len(lock))
	}
}
