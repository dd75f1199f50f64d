package preview

import (
	"context"
	"strconv"
	"strings"
	"testing"
)

// A bundle's position maps back to the app's source file and line through
// the build's source map; a stack's first app frame is found among other
// frames; a position the map does not know maps to nothing.
func TestMapStackToSource(t *testing.T) {
	dir := writeApp(t, map[string]string{
		"index.html": `<!doctype html><html><head></head><body><div id="root"></div><script type="module" src="/src/main.ts"></script></body></html>`,
		"src/main.ts": `import { boom } from "./boom";
const el = document.getElementById("root")!;
el.textContent = "hi";
boom();
`,
		"src/boom.ts": `// a comment
// another
export function boom(): void {
  const x = 1 + 1;
  throw new Error("boom " + x);
}
`,
	})
	p, diags, err := Build(context.Background(), Options{Dir: dir})
	if err != nil {
		t.Fatalf("%v %v", err, diags)
	}
	var js string
	for _, path := range p.Paths() {
		if strings.HasPrefix(path, "/assets/main-") && strings.HasSuffix(path, ".js") {
			js = path
		}
	}
	body, _ := p.File(js)
	lines := strings.Split(string(body), "\n")
	gl, gc := 0, 0
	for i, l := range lines {
		if c := strings.Index(l, "throw new Error"); c >= 0 {
			gl, gc = i+1, c+1
		}
	}
	if gl == 0 {
		t.Fatalf("no throw in the bundle:\n%s", body)
	}
	stack := "Error: boom 2\n    at http://127.0.0.1:9/__stich/reporter.js:1:5\n    at boom (http://app.preview.test:8081" + js + ":" +
		strconv.Itoa(gl) + ":" + strconv.Itoa(gc+6) + ")\n    at http://app.preview.test:8081" + js + ":1:1"
	loc, ok := p.MapStack(stack)
	if !ok || loc.File != "src/boom.ts" || loc.Line != 5 {
		t.Fatalf("mapped %+v %v, want src/boom.ts line 5", loc, ok)
	}
	if _, ok := p.MapLocation(js, len(lines)+50, 1); ok {
		t.Fatal("a line past the bundle mapped to a source")
	}
	if _, ok := p.MapStack("Error: x\n    at http://elsewhere.test/other.js:3:4"); ok {
		t.Fatal("a script the build does not serve mapped to a source")
	}
}
