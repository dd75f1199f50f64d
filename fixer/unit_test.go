package fixer

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stichdev/stich/sandbox"
)

func TestImportModelString(t *testing.T) {
	cases := []struct {
		m    importModel
		want string
	}{
		{importModel{spec: "react", named: []namedSpec{{"useState", "useState", false}, {"ReactNode", "ReactNode", true}}}, `import { useState, type ReactNode } from "react";`},
		{importModel{spec: "./App", def: "App"}, `import App from "./App";`},
		{importModel{spec: "./App", def: "App", named: []namedSpec{{"x", "y", false}}}, `import App, { x as y } from "./App";`},
		{importModel{spec: "react", ns: "React"}, `import * as React from "react";`},
		{importModel{spec: "react", typeOnly: true, named: []namedSpec{{"FC", "FC", false}}}, `import type { FC } from "react";`},
		{importModel{spec: "./x.css", sideEffect: true}, `import "./x.css";`},
		{importModel{spec: "./a", named: nil}, ``},
		{importModel{spec: "./a", def: "A", removed: true}, ``},
		{importModel{spec: "./a", ns: "ns", named: []namedSpec{{"b", "b", false}}}, "import * as ns from \"./a\";\nimport { b } from \"./a\";"},
		{importModel{spec: "./a", typeOnly: true, def: "A", named: []namedSpec{{"b", "b", false}}}, "import type A from \"./a\";\nimport type { b } from \"./a\";"},
		{importModel{spec: "./data.json", def: "data", attributes: `with { type: "json" }`}, `import data from "./data.json" with { type: "json" };`},
		{importModel{spec: `we"ird`, def: "w"}, `import w from "we\"ird";`},
		{importModel{spec: "./x", specText: "'./x'", def: "x"}, `import x from './x';`},
	}
	for _, c := range cases {
		if got := c.m.String(); got != c.want {
			t.Errorf("%+v:\n got %q\nwant %q", c.m, got, c.want)
		}
	}
	long := importModel{spec: "../schema"}
	for _, n := range []string{"recipeFields", "recipeLabels", "recipeSorts", "recipeStorageKey", "recipeTitle", "recipeToDraft"} {
		long.named = append(long.named, namedSpec{n, n, false})
	}
	if got := long.String(); !strings.HasPrefix(got, "import {\n  recipeFields,\n") || !strings.HasSuffix(got, "\n} from \"../schema\";") {
		t.Errorf("long import not wrapped:\n%s", got)
	}
}

func TestRelSpec(t *testing.T) {
	cases := []struct{ from, to, want string }{
		{"src/App.tsx", "src/components/RecipesPage.tsx", "./components/RecipesPage"},
		{"src/components/A.tsx", "src/schema.ts", "../schema"},
		{"src/components/A.tsx", "src/components/B.tsx", "./B"},
		{"src/a/b/c.ts", "src/x/y.ts", "../../x/y"},
		{"src/App.tsx", "src/utils/index.ts", "./utils"},
		{"src/App.tsx", "src/App.css", "./App.css"},
		{"main.ts", "src/x.ts", "./src/x"},
		{"src/App.tsx", "src/types.d.ts", "./types"},
	}
	for _, c := range cases {
		if got := relSpec(c.from, c.to); got != c.want {
			t.Errorf("relSpec(%q, %q) = %q, want %q", c.from, c.to, got, c.want)
		}
	}
}

func TestResolver(t *testing.T) {
	files := map[string]string{
		"src/App.tsx": "", "src/components/RecipesPage.tsx": "", "src/components/Hero.tsx": "", "src/sections/Hero.tsx": "",
		"src/utils/index.ts": "", "src/App.css": "", "src/styles/theme.css": "", "node_modules/x/index.ts": "", "src/lib/Card.tsx": "",
	}
	r := newResolver(files)
	cases := []struct{ base, want string }{
		{"src/components/RecipesPage", "src/components/RecipesPage.tsx"},
		{"src/component/RecipesPage", "src/components/RecipesPage.tsx"},     // nearby folder
		{"src/components/recipespage", "src/components/RecipesPage.tsx"},    // letter case
		{"src/components/RecipesPage.js", "src/components/RecipesPage.tsx"}, // .js for .ts
		{"src/utils", "src/utils/index.ts"},
		{"src/Hero", "src/components/Hero.tsx"}, // nearest: ties go to the first path
		{"src/pages/Hero", "src/components/Hero.tsx"},
		{"src/sections/hero", "src/sections/Hero.tsx"},
		{"src/theme.css", "src/styles/theme.css"},
		{"src/x/Missing", ""},
		{"src/x", ""}, // node_modules does not count
		{"src/components/Card", "src/lib/Card.tsx"},
	}
	for _, c := range cases {
		if got := r.guess(c.base); got != c.want {
			t.Errorf("guess(%q) = %q, want %q", c.base, got, c.want)
		}
	}
	for spec, want := range map[string]specKind{"./a": specRelative, "../a": specRelative, "@/a": specAlias, "~/a": specAlias, "src/a": specAlias, "/src/a": specAbsolute, "react": specPackage, "@scope/pkg": specPackage} {
		if got := classify(spec); got != want {
			t.Errorf("classify(%q) = %d, want %d", spec, got, want)
		}
	}
	for spec, want := range map[string]string{"react-dom/client": "react-dom", "@tanstack/react-query": "@tanstack/react-query", "@tanstack": "", "lodash/debounce": "lodash", "Bad Name": ""} {
		if got := packageName(spec); got != want {
			t.Errorf("packageName(%q) = %q, want %q", spec, got, want)
		}
	}
}

func TestOffsets(t *testing.T) {
	content := "a\r\nb😀x\rc\u2028d\n"
	e := &fileEdit{content: content, starts: lineStarts(content)}
	cases := []struct{ line, col, want int }{
		{1, 1, 0}, {2, 1, 3}, {2, 2, 4}, {2, 4, 8}, {3, 1, 10}, {4, 1, 14}, {9, 1, -1},
	}
	for _, c := range cases {
		if got := e.offset(c.line, c.col); got != c.want {
			t.Errorf("offset(%d,%d) = %d, want %d", c.line, c.col, got, c.want)
		}
	}
}

func TestStubFor(t *testing.T) {
	cases := []struct {
		name string
		u    *usage
		want string
	}{
		{"Sidebar", &usage{Count: 1, JSX: true}, "export function Sidebar({ children }: { children?: ReactNode; [prop: string]: unknown }) {\n  return <>{children}</>;\n}\n"},
		{"useThing", &usage{Count: 1, Call: true, Result: "array"}, "export function useThing(..._args: unknown[]): any {\n  return [];\n}\n"},
		{"Cache", &usage{Count: 1, New: true}, "export class Cache {\n  [key: string]: any;\n  constructor(..._args: unknown[]) {}\n}\n"},
		{"Entry", &usage{Count: 1, Type: true, TypeArgs: 2}, "export type Entry<_T0 = unknown, _T1 = unknown> = any;\n"},
		{"config", &usage{Count: 1, Value: true, Members: []string{"url"}}, "export const config: any = {};\n"},
		{"Both", &usage{Count: 2, Value: true, Type: true}, "export const Both: any = undefined;\nexport type Both = any;\n"},
	}
	for _, c := range cases {
		if got := stubFor(c.name, c.u, "export ", false, true).code; got != c.want {
			t.Errorf("stubFor(%s):\n got %q\nwant %q", c.name, got, c.want)
		}
	}
	if got := stubFor("Modal", &usage{Count: 1, JSX: true}, "", true, false).code; !strings.HasPrefix(got, "export default function Modal(_props") {
		t.Errorf("default component stub in .ts: %q", got)
	}
}

func TestOrderedJSON(t *testing.T) {
	in := "{\n  \"name\": \"x\",\n  \"scripts\": {\"b\": \"1\", \"a\": \"2\"},\n  \"devDependencies\": {\n    \"vite\": \"8\",\n    \"@types/react\": \"19\"\n  }\n}\n"
	o := parseOrdered(in)
	if o == nil || !o.hasDep("vite") || o.hasDep("left-pad") {
		t.Fatal("parse or hasDep")
	}
	o.addDevDep("@types/left-pad", "latest")
	want := "{\n  \"name\": \"x\",\n  \"scripts\": {\n    \"b\": \"1\",\n    \"a\": \"2\"\n  },\n  \"devDependencies\": {\n    \"@types/left-pad\": \"latest\",\n    \"@types/react\": \"19\",\n    \"vite\": \"8\"\n  }\n}\n"
	if got := o.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if parseOrdered("[1]") != nil || parseOrdered("nope") != nil {
		t.Error("non-objects should not parse")
	}
}

func TestDecodeFactsRejects(t *testing.T) {
	files := map[string]string{"a.ts": `import { x } from "./b";`}
	good := `{"version":1,"files":{"a.ts":{"imports":[{"start":0,"end":24,"spec":"./b","specStart":18,"specEnd":23,"named":[{"name":"x","alias":"x","start":9,"end":10}]}],"importsEnd":24}},"queries":[]}`
	if _, err := decodeFacts([]byte(good), files); err != nil {
		t.Fatalf("good facts: %v", err)
	}
	bad := map[string]string{
		"offset past the end":   strings.Replace(good, `"end":24`, `"end":99`, 1),
		"unknown file":          strings.Replace(good, `"a.ts":{`, `"../etc/passwd":{`, 1),
		"specifier not a quote": strings.Replace(good, `"specStart":18`, `"specStart":17`, 1),
		"binding not an ident":  strings.Replace(good, `"name":"x","alias":"x"`, `"name":"x;alert(1)","alias":"x"`, 1),
		"negative offset":       strings.Replace(good, `"start":9`, `"start":-1`, 1),
		"version":               strings.Replace(good, `"version":1`, `"version":2`, 1),
		"query name mismatch":   strings.Replace(good, `"queries":[]`, `"queries":[{"file":"a.ts","line":1,"column":1,"name":"zz","start":0,"end":2}]`, 1),
		"not json":              `{"version":`,
	}
	for name, b := range bad {
		if _, err := decodeFacts([]byte(b), files); !errors.Is(err, errFacts) {
			t.Errorf("%s: err = %v, want errFacts", name, err)
		}
	}
}

// TestPlanUnknownCodes: diagnostics without a rule, or without a file,
// come back unfixable and nothing is edited.
func TestPlanUnknownCodes(t *testing.T) {
	files := map[string]string{"src/a.ts": "export const a: number = \"x\";\n"}
	diags := []sandbox.Diagnostic{
		{Code: 2322, Category: "error", File: "src/a.ts", Line: 1, Column: 14, Message: "Type 'string' is not assignable to type 'number'."},
		{Code: 18003, Category: "error", Message: "No inputs were found in config file."},
	}
	res := plan(diags, files, &facts{Version: 1, Files: map[string]*fileFacts{"src/a.ts": {}}})
	if len(res.Files) != 0 || len(res.Fixes) != 0 || len(res.Unfixable) != 2 {
		t.Errorf("got %+v", res)
	}
}

// FuzzPlan feeds arbitrary parser output to the decoder and the planner:
// whatever a compromised parser says, stich must not panic, and edits must
// only produce files the app has or files under the app's folders.
func FuzzPlan(f *testing.F) {
	files := map[string]string{
		"src/App.tsx":  "import { A } from \"./a\";\nimport B from \"./b\";\nexport default function App() { return <A />; }\n",
		"src/a.ts":     "export const x = 1;\n",
		"package.json": "{\"devDependencies\":{\"vite\":\"8\"}}\n",
		"src/types.ts": "",
		"src/😀/x.tsx":  "const é = 1;\n",
	}
	diags := []sandbox.Diagnostic{
		{Code: 2305, File: "src/App.tsx", Line: 1, Column: 10, Message: "Module '\"./a\"' has no exported member 'A'."},
		{Code: 2613, File: "src/App.tsx", Line: 2, Column: 8, Message: "Module has no default export."},
		{Code: 2304, File: "src/App.tsx", Line: 3, Column: 40, Message: "Cannot find name 'Foo'."},
		{Code: 6133, File: "src/App.tsx", Line: 1, Column: 10, Message: "'A' is declared but its value is never read."},
		{Code: 2307, File: "src/App.tsx", Line: 2, Column: 16, Message: "Cannot find module './b'."},
		{Code: 7016, File: "src/App.tsx", Line: 1, Column: 1, Message: "Could not find a declaration file for module 'left-pad'."},
		{Code: 2551, File: "src/App.tsx", Line: 3, Column: 1, Message: "Property 'x' does not exist on type 'Y'. Did you mean 'z'?"},
	}
	seed, _ := json.Marshal(facts{Version: 1, Files: map[string]*fileFacts{"src/App.tsx": {
		Imports: []importFact{
			{Start: 0, End: 24, Spec: "./a", SpecStart: 18, SpecEnd: 23, Named: []named{{Name: "A", Alias: "A", Start: 9, End: 10}}},
			{Start: 25, End: 45, Spec: "./b", SpecStart: 39, SpecEnd: 44, Default: &binding{Name: "B", Start: 32, End: 33}},
		},
		ImportsEnd: 45,
		Usage:      map[string]*usage{"A": {Count: 1, JSX: true}, "Foo": {Count: 1, Call: true}},
	}}})
	f.Add(seed)
	f.Add([]byte(`{"version":1,"files":{},"queries":[]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		fc, err := decodeFacts(raw, files)
		if err != nil {
			return
		}
		res := plan(diags, files, fc)
		for p := range res.Files {
			if strings.HasPrefix(p, "/") || strings.Contains(p, "..") || strings.HasPrefix(p, "node_modules/") {
				t.Fatalf("plan writes %q", p)
			}
		}
	})
}

// TestPlanMissingTypes: TS7016 first adds @types/x to devDependencies (and
// asks for the install); when package.json already lists it, the module
// is declared untyped instead.
func TestPlanMissingTypes(t *testing.T) {
	pkg := "{\n  \"name\": \"app\",\n  \"devDependencies\": {\n    \"vite\": \"8.3.8\"\n  }\n}\n"
	files := map[string]string{"package.json": pkg, "src/a.ts": "import pad from \"left-pad\";\nexport const x = pad;\n"}
	diag := sandbox.Diagnostic{Code: 7016, Category: "error", File: "src/a.ts", Line: 1, Column: 17,
		Message: "Could not find a declaration file for module 'left-pad'. '/app/node_modules/left-pad/index.js' implicitly has an 'any' type."}
	fc := &facts{Version: 1, Files: map[string]*fileFacts{"src/a.ts": {}}}
	res := plan([]sandbox.Diagnostic{diag}, files, fc)
	want := "{\n  \"name\": \"app\",\n  \"devDependencies\": {\n    \"@types/left-pad\": \"latest\",\n    \"vite\": \"8.3.8\"\n  }\n}\n"
	if res.Files["package.json"] != want || len(res.Install) != 1 || res.Install[0] != "@types/left-pad" || len(res.Unfixable) != 0 {
		t.Fatalf("first pass: %+v", res)
	}
	files["package.json"] = want
	res = plan([]sandbox.Diagnostic{diag}, files, fc)
	if got := res.Files["src/modules.d.ts"]; !strings.Contains(got, "declare module \"left-pad\";\n") || len(res.Install) != 0 {
		t.Fatalf("second pass: %+v", res)
	}
}

// TestPlanInstall: a bare package import that does not resolve asks for an
// install and edits nothing; node built-ins cannot be installed.
func TestPlanInstall(t *testing.T) {
	src := "import axios from \"axios\";\nimport fs from \"fs\";\nexport const x = [axios, fs];\n"
	files := map[string]string{"src/a.ts": src}
	fc := &facts{Version: 1, Files: map[string]*fileFacts{"src/a.ts": {
		Imports: []importFact{
			{Start: 0, End: 26, Spec: "axios", SpecStart: 18, SpecEnd: 25, Default: &binding{Name: "axios", Start: 7, End: 12}},
			{Start: 27, End: 47, Spec: "fs", SpecStart: 42, SpecEnd: 46, Default: &binding{Name: "fs", Start: 34, End: 36}},
		},
		ImportsEnd: 47,
	}}}
	diags := []sandbox.Diagnostic{
		{Code: 2307, File: "src/a.ts", Line: 1, Column: 19, Message: "Cannot find module 'axios' or its corresponding type declarations."},
		{Code: 2307, File: "src/a.ts", Line: 2, Column: 16, Message: "Cannot find module 'fs' or its corresponding type declarations."},
	}
	res := plan(diags, files, fc)
	if len(res.Files) != 0 || len(res.Install) != 1 || res.Install[0] != "axios" || len(res.Unfixable) != 1 || res.Unfixable[0].Line != 2 {
		t.Fatalf("%+v", res)
	}
	if f := res.Fixes[0]; f.Kind != KindInstall || f.Package != "axios" {
		t.Errorf("fix %+v", f)
	}
}

func TestNamedType(t *testing.T) {
	for s, want := range map[string]bool{
		"string[]": true, "Contact": true, "T": true, "(string | number)[]": true, "Array<Todo>": true, "Contact | null": true,
		"{ id: string; }[]": false, `"todo"`: false, `import("x").Y`: false,
	} {
		if got := reNamedType.MatchString(s); got != want {
			t.Errorf("reNamedType(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestFuzzy(t *testing.T) {
	r := newResolver(map[string]string{
		"src/lib/format-date.ts": "", "src/api/contacts.ts": "", "src/utils/temperature.ts": "",
		"src/components/Button/index.tsx": "", "src/a/Card.tsx": "", "src/b/Card.tsx": "",
	})
	for base, want := range map[string]string{
		"src/lib/formatDate":      "src/lib/format-date.ts",
		"src/api/contact":         "src/api/contacts.ts",
		"src/utils/temprature":    "src/utils/temperature.ts",
		"src/components/button":   "src/components/Button/index.tsx",
		"src/c/Card":              "", // two equally near: no guess
		"src/utils/somethingElse": "",
	} {
		if got := r.fuzzy(base); got != want {
			t.Errorf("fuzzy(%q) = %q, want %q", base, got, want)
		}
	}
}

func TestCSSKey(t *testing.T) {
	for in, want := range map[string]string{"width": "width", "background-color": "backgroundColor", "-webkit-line-clamp": "WebkitLineClamp", "--gap": `"--gap"`} {
		if got := cssKey(in); got != want {
			t.Errorf("cssKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// A compiler suggestion is taken only for typo-sized differences, and a
// library the app declares is imported from before any placeholder.
func TestMissingNameLibraryAndSuggestionGuard(t *testing.T) {
	src := "export function Page() {\n  const navigate = useNavigate();\n  return navigate;\n}\n"
	files := map[string]string{"src/Page.tsx": src, "package.json": `{"dependencies":{"react-router-dom":"^7.0.0"}}`}
	fc := &facts{Version: 1, Files: map[string]*fileFacts{"src/Page.tsx": {Usage: map[string]*usage{}}}}
	d := sandbox.Diagnostic{Code: 2552, Category: "error", File: "src/Page.tsx", Line: 2, Column: 20, Message: "Cannot find name 'useNavigate'. Did you mean 'navigate'?"}
	res := plan([]sandbox.Diagnostic{d}, files, fc)
	if got := res.Files["src/Page.tsx"]; !strings.Contains(got, `import { useNavigate } from "react-router-dom";`) || strings.Contains(got, "= navigate()") {
		t.Fatalf("fixed file:\n%s", got)
	}
	if len(res.NeedsModel) != 0 {
		t.Errorf("placeholders: %v", res.NeedsModel)
	}
	// Without the library declared: a placeholder, listed as needing a model.
	files["package.json"] = `{"dependencies":{}}`
	res = plan([]sandbox.Diagnostic{d}, files, fc)
	if len(res.NeedsModel) != 1 || len(res.Fixes) != 0 {
		t.Errorf("fixes %v, needs a model %v", res.Fixes, res.NeedsModel)
	}
}
