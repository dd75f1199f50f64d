package fixer

import (
	"errors"
	"strings"
	"testing"

	"github.com/stichdev/stich/sandbox"
)

func TestMemberMatch(t *testing.T) {
	item := []string{"sku", "description", "quantity", "unitPrice", "salePrice", "reorderLevel"}
	cases := []struct {
		name    string
		members []string
		want    string
		tie     bool // no match because several tie (a reason is given)
	}{
		{"qty", item, "quantity", false},
		{"desc", item, "description", false},
		{"reorder_level", item, "reorderLevel", false},
		{"Sku", item, "sku", false},
		{"price", item, "", false},                              // unitPrice, salePrice: no name matches
		{"name", []string{"id", "title", "minutes"}, "", false}, // another word
		{"ingredientList", []string{"id", "ingredients", "tags"}, "ingredients", false},
		{"val", []string{"value", "validity", "valueAsNumber"}, "", true}, // a prefix of three
		{"qty", []string{"quantity", "quality"}, "", true},                // an abbreviation of both
		{"prepTime", []string{"prepMinutes", "title"}, "", false},         // a shared modifier is not enough
		{"quantity", item, "", false},                                     // present: nothing to do
	}
	for _, c := range cases {
		got, why := memberMatch(c.name, c.members)
		if got != c.want {
			t.Errorf("memberMatch(%q, %v) = %q (%s), want %q", c.name, c.members, got, why, c.want)
		}
		if got == "" && c.tie != (why != "") {
			t.Errorf("memberMatch(%q, %v): reason %q, want a reason: %v", c.name, c.members, why, c.tie)
		}
	}
}

func TestWords(t *testing.T) {
	cases := map[string]string{"publishedYear": "published year", "published_year": "published year", "URLPath": "urlpath", "x": "x", "aria-label": "aria label"}
	for in, want := range cases {
		if got := strings.Join(words(in), " "); got != want {
			t.Errorf("words(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDecodeFactsRejectsNewSites(t *testing.T) {
	files := map[string]string{"a.tsx": "const a = <p>x\n;\n", "b.ts": "const x = process.env.API;\n"}
	good := `{"version":1,"files":{"a.tsx":{"importsEnd":0,"unclosed":[{"at":14,"text":"</p>","tag":"p"}]}},"queries":[` +
		`{"file":"b.ts","line":1,"column":11,"site":{"kind":"env","name":"API","start":10,"end":25,"text":"process.env.API"}},` +
		`{"file":"b.ts","line":1,"column":11,"site":{"kind":"member","name":"env","start":18,"end":21,"members":["a","b"]}}]}`
	if _, err := decodeFacts([]byte(good), files); err != nil {
		t.Fatalf("good facts: %v", err)
	}
	bad := map[string]string{
		"closing tag not a tag":  strings.Replace(good, `"text":"</p>"`, `"text":"</p><script>"`, 1),
		"closing tag other name": strings.Replace(good, `"text":"</p>"`, `"text":"</div>"`, 1),
		"closing tag past end":   strings.Replace(good, `"at":14`, `"at":99`, 1),
		"env text mismatch":      strings.Replace(good, `"text":"process.env.API"`, `"text":"process.env.APX"`, 1),
		"env key not a name":     strings.Replace(good, `"name":"API"`, `"name":"A;B"`, 1),
		"member not a name":      strings.Replace(good, `"members":["a","b"]`, `"members":["a","b()"]`, 1),
		"call type with code":    strings.Replace(good, `"members":["a","b"]`, `"callTypes":["{ x: 1 }"]`, 1),
	}
	for name, b := range bad {
		if _, err := decodeFacts([]byte(b), files); !errors.Is(err, errFacts) {
			t.Errorf("%s: err = %v, want errFacts", name, err)
		}
	}
}

// planOne plans one diagnostic whose site is given.
func planOne(files map[string]string, d sandbox.Diagnostic, s *site) Result {
	fc := &facts{Version: 1, Files: map[string]*fileFacts{}}
	for p := range files {
		if isSource(p) {
			fc.Files[p] = &fileFacts{Usage: map[string]*usage{}}
		}
	}
	fc.Queries = []query{{Code: d.Code, File: d.File, Line: d.Line, Column: d.Column, Site: s}}
	return plan([]sandbox.Diagnostic{d}, files, fc)
}

func TestPlanHelperParam(t *testing.T) {
	src := "export function stars(n): string {\n  return String(n);\n}\n"
	files := map[string]string{"src/stars.ts": src}
	d := sandbox.Diagnostic{Code: 7006, File: "src/stars.ts", Line: 1, Column: 23, Message: "Parameter 'n' implicitly has an 'any' type."}
	s := &site{Kind: "param", Name: "n", Start: 22, End: 23, Count: 1, Parens: true, Helper: true, CallTypes: []string{"number", "number"}}
	res := planOne(files, d, s)
	if got := res.Files["src/stars.ts"]; !strings.HasPrefix(got, "export function stars(n: number): string {") {
		t.Fatalf("agreeing call sites: got\n%s", got)
	}
	s.CallTypes = []string{"number", "string"}
	res = planOne(files, d, s)
	if len(res.Files) != 0 || len(res.Left) != 1 || !strings.Contains(res.Left[0].Reason, "number, string") {
		t.Errorf("disagreeing call sites: files %v, left %v", res.Files, res.Left)
	}
	for _, ts := range [][]string{{""}, {"any"}, {"number", ""}} {
		s.CallTypes = ts
		if res := planOne(files, d, s); len(res.Files) != 0 {
			t.Errorf("call types %q: edited %v", ts, res.Files)
		}
	}
}

func TestPlanNodeGlobals(t *testing.T) {
	vite := "{\n  \"dependencies\": {\n    \"react\": \"^19.0.0\"\n  },\n  \"devDependencies\": {\n    \"vite\": \"^8.0.0\"\n  }\n}\n"
	envSrc := "const url = process.env.REACT_APP_API_URL ?? \"/api\";\nexport default url;\n"
	d := sandbox.Diagnostic{Code: 2591, File: "src/api.ts", Line: 1, Column: 13, Message: "Cannot find name 'process'. Do you need to install type definitions for node?"}
	env := &site{Kind: "env", Name: "REACT_APP_API_URL", Start: 12, End: 41, Text: "process.env.REACT_APP_API_URL"}
	res := planOne(map[string]string{"src/api.ts": envSrc, "package.json": vite, "src/vite-env.d.ts": "/// <reference types=\"vite/client\" />\n"}, d, env)
	if got := res.Files["src/api.ts"]; !strings.HasPrefix(got, "const url = import.meta.env.VITE_API_URL ?? ") {
		t.Fatalf("process.env in a Vite app:\n%s", got)
	}
	// Without vite/client types anywhere, they are added.
	res = planOne(map[string]string{"src/api.ts": envSrc, "package.json": vite}, d, env)
	if !strings.Contains(res.Files["src/vite-env.d.ts"], "vite/client") || !strings.Contains(res.Files["src/api.ts"], "import.meta.env.VITE_API_URL") {
		t.Errorf("vite/client types not added: %v", res.Files)
	}
	// Not a Vite app: left, with the reason.
	res = planOne(map[string]string{"src/api.ts": envSrc, "package.json": "{\n  \"dependencies\": {\n    \"next\": \"^15.0.0\"\n  }\n}\n"}, d, env)
	if len(res.Files) != 0 || len(res.Left) != 1 || !strings.Contains(res.Left[0].Reason, "Vite") {
		t.Errorf("not a Vite app: files %v, left %v", res.Files, res.Left)
	}

	reqSrc := "const { nanoid, customAlphabet: alphabet } = require(\"nanoid\");\nexport const id = nanoid() + alphabet;\n"
	rd := sandbox.Diagnostic{Code: 2591, File: "src/id.ts", Line: 1, Column: 46, Message: "Cannot find name 'require'. Do you need to install type definitions for node?"}
	req := &site{Kind: "require", Text: "nanoid", Start: 0, End: strings.Index(reqSrc, ";") + 1, Bindings: []string{"nanoid", "customAlphabet:alphabet"}, Flag: true}
	res = planOne(map[string]string{"src/id.ts": reqSrc, "package.json": vite}, rd, req)
	if got := res.Files["src/id.ts"]; !strings.HasPrefix(got, "import { nanoid, customAlphabet as alphabet } from \"nanoid\";\n") {
		t.Errorf("destructured require:\n%s", got)
	}
	// A package bound whole: its export shape is unknown, so it is left.
	req.Bindings, req.Name = nil, "nano"
	res = planOne(map[string]string{"src/id.ts": reqSrc, "package.json": vite}, rd, req)
	if len(res.Files) != 0 || len(res.Left) != 1 {
		t.Errorf("whole package require: files %v, left %v", res.Files, res.Left)
	}
	// A local module: default import when it has a default export, else a namespace.
	local := "const card = require(\"./card\");\nexport default card;\n"
	files := map[string]string{"src/a.ts": local, "src/card.ts": "export const x = 1;\n"}
	lreq := &site{Kind: "require", Text: "./card", Name: "card", Start: 0, End: strings.Index(local, ";") + 1, Flag: true}
	fc := &facts{Version: 1, Files: map[string]*fileFacts{"src/a.ts": {Usage: map[string]*usage{}}, "src/card.ts": {Usage: map[string]*usage{}, Exports: []exportFact{{Name: "x", Kind: "const"}}}},
		Queries: []query{{Code: 2591, File: "src/a.ts", Line: 1, Column: 14, Site: lreq}}}
	ld := sandbox.Diagnostic{Code: 2591, File: "src/a.ts", Line: 1, Column: 14, Message: "Cannot find name 'require'."}
	if got := plan([]sandbox.Diagnostic{ld}, files, fc).Files["src/a.ts"]; !strings.HasPrefix(got, "import * as card from \"./card\";") {
		t.Errorf("namespace require:\n%s", got)
	}
	fc.Files["src/card.ts"].Exports = append(fc.Files["src/card.ts"].Exports, exportFact{Name: "default", Kind: "function"})
	if got := plan([]sandbox.Diagnostic{ld}, files, fc).Files["src/a.ts"]; !strings.HasPrefix(got, "import card from \"./card\";") {
		t.Errorf("default require:\n%s", got)
	}

	// Buffer, __dirname: left for the model with the reason, never a placeholder.
	bd := sandbox.Diagnostic{Code: 2304, File: "src/a.ts", Line: 1, Column: 1, Message: "Cannot find name '__dirname'."}
	res = planOne(map[string]string{"src/a.ts": "export const d = __dirname;\n"}, bd, &site{Kind: "global", Name: "__dirname"})
	if len(res.Files) != 0 || len(res.NeedsModel) != 0 || len(res.Left) != 1 || !strings.Contains(res.Left[0].Reason, "browser") {
		t.Errorf("__dirname: files %v, needs a model %v, left %v", res.Files, res.NeedsModel, res.Left)
	}
}

func TestPlanBestMember(t *testing.T) {
	src := "import type { Item } from \"./item\";\nexport const q = (it: Item) => it.qty + it.price;\n"
	files := map[string]string{"src/a.ts": src, "src/item.ts": "export interface Item {\n  quantity: number;\n  unitPrice: number;\n  salePrice: number;\n}\n"}
	at := strings.Index(src, "qty")
	fc := &facts{Version: 1, Files: map[string]*fileFacts{
		"src/a.ts":    {Usage: map[string]*usage{}},
		"src/item.ts": {Usage: map[string]*usage{}, Declarations: []declFact{{Name: "Item", Kind: "interface", TypeOnly: true, Exported: true, Members: []string{"quantity", "unitPrice", "salePrice"}}}},
	}}
	d := sandbox.Diagnostic{Code: 2339, File: "src/a.ts", Line: 2, Column: 35, Message: "Property 'qty' does not exist on type 'Item'."}
	fc.Queries = []query{{Code: 2339, File: "src/a.ts", Line: 2, Column: 35, Site: &site{Kind: "member", Name: "qty", Start: at, End: at + 3}}}
	if got := plan([]sandbox.Diagnostic{d}, files, fc).Files["src/a.ts"]; !strings.Contains(got, "it.quantity + it.price") {
		t.Errorf("qty from the declared members:\n%s", got)
	}
	if needsTypes(fc, []sandbox.Diagnostic{d}) {
		t.Errorf("the project declares Item with all its members: the checker is not needed")
	}
	// Declared twice: the checker's view is asked for.
	fc.Files["src/a.ts"].Declarations = []declFact{{Name: "Item", Kind: "interface", TypeOnly: true}}
	if !needsTypes(fc, []sandbox.Diagnostic{d}) {
		t.Errorf("Item declared twice: the checker is needed")
	}
	// price matches nothing clearly: nothing is edited.
	pd := sandbox.Diagnostic{Code: 2339, File: "src/a.ts", Line: 2, Column: 48, Message: "Property 'price' does not exist on type 'Item'."}
	pat := strings.Index(src, "price")
	fc.Files["src/a.ts"].Declarations = nil
	fc.Queries = []query{{Code: 2339, File: "src/a.ts", Line: 2, Column: 48, Site: &site{Kind: "member", Name: "price", Start: pat, End: pat + 5}}}
	if res := plan([]sandbox.Diagnostic{pd}, files, fc); len(res.Files) != 0 {
		t.Errorf("price renamed: %v", res.Files)
	}
}
