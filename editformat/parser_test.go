package editformat

import (
	"errors"
	"strings"
	"testing"
)

// formatCase is one answer: the files it should leave, the block errors it
// should report (by sentinel, in order) and the prose it should keep.
type formatCase struct {
	name    string
	current map[string]string
	answer  string
	opts    Options
	want    map[string]string // files changed or created ("" value with deleted)
	deleted []string
	errs    []error
	prose   string // if set, the whole prose
}

func runCases(t *testing.T, cases []formatCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			evs := parseChunks(c.current, c.opts, c.answer)
			checkWellFormed(t, evs, c.opts)
			got := filesAfter(c.current, evs)
			for p, want := range c.want {
				if got[p] != want {
					t.Errorf("%s = %q, want %q\nevents:\n%s", p, got[p], want, render(Coalesce(evs)))
				}
			}
			for p := range got {
				if _, ok := c.want[p]; !ok && got[p] != c.current[p] {
					t.Errorf("unexpected change to %s: %q", p, got[p])
				}
			}
			for _, p := range c.deleted {
				if _, ok := got[p]; ok {
					t.Errorf("%s not deleted", p)
				}
			}
			var errs []error
			var prose strings.Builder
			for _, ev := range evs {
				switch ev.Kind {
				case BlockError:
					errs = append(errs, ev.Err)
				case Prose:
					prose.WriteString(ev.Data)
				}
			}
			if len(errs) != len(c.errs) {
				t.Fatalf("errors = %v, want %d: %v\n%s", errs, len(c.errs), c.errs, render(Coalesce(evs)))
			}
			for i := range errs {
				if !errors.Is(errs[i], c.errs[i]) {
					t.Errorf("error %d = %v, want %v", i, errs[i], c.errs[i])
				}
			}
			if c.prose != "" && prose.String() != c.prose {
				t.Errorf("prose = %q, want %q", prose.String(), c.prose)
			}
		})
	}
}

func TestWholeFiles(t *testing.T) {
	runCases(t, []formatCase{
		{name: "tag", answer: "<file path=\"src/a.ts\">\nexport const a = 1;\n</file>\n",
			want: map[string]string{"src/a.ts": "export const a = 1;\n"}},
		{name: "tag single quotes and escapes", answer: "<file path='src/a.ts' purpose='a &amp; b'>\nx\n</file>\n",
			want: map[string]string{"src/a.ts": "x\n"}},
		{name: "tag on one line", answer: "<file path=\"src/a.ts\">export const a = 1;</file>\n",
			want: map[string]string{"src/a.ts": "export const a = 1;\n"}},
		{name: "tag with leading dot slash", answer: "<file path=\"./src/a.ts\">\nx\n</file>",
			want: map[string]string{"src/a.ts": "x\n"}},
		{name: "tag with absolute-looking path", answer: "<file path=\"/src/a.ts\">\nx\n</file>",
			want: map[string]string{"src/a.ts": "x\n"}},
		{name: "tag inner fence stripped", answer: "<file path=\"src/a.ts\">\n```ts\nx\n```\n</file>\n",
			want: map[string]string{"src/a.ts": "x\n"}},
		{name: "tag inner fence kept when not last", answer: "<file path=\"README.md\">\n```md\n# T\n```\nmore\n</file>\n",
			want: map[string]string{"README.md": "# T\n```\nmore\n"}},
		{name: "empty file", answer: "<file path=\"src/empty.ts\">\n</file>\n",
			want: map[string]string{"src/empty.ts": ""}},
		{name: "fence path key", answer: "```tsx path=src/App.tsx\nA\n```\n", want: map[string]string{"src/App.tsx": "A\n"}},
		{name: "fence file key quoted", answer: "```tsx file=\"src/App.tsx\"\nA\n```\n", want: map[string]string{"src/App.tsx": "A\n"}},
		{name: "fence title key", answer: "```ts title=src/x.ts\nA\n```\n", want: map[string]string{"src/x.ts": "A\n"}},
		{name: "fence lang colon path", answer: "```typescript:src/x.ts\nA\n```\n", want: map[string]string{"src/x.ts": "A\n"}},
		{name: "fence bare path", answer: "```src/x.ts\nA\n```\n", want: map[string]string{"src/x.ts": "A\n"}},
		{name: "fence lang then path", answer: "```ts src/x.ts\nA\n```\n", want: map[string]string{"src/x.ts": "A\n"}},
		{name: "tilde fence", answer: "~~~ts path=src/x.ts\nA\n~~~\n", want: map[string]string{"src/x.ts": "A\n"}},
		{name: "four backticks", answer: "````md path=a.md\n```js\nx\n```\n````\n", want: map[string]string{"a.md": "```js\nx\n```\n"}},
		{name: "header // File:", answer: "// File: src/x.ts\n```ts\nA\n```\n", want: map[string]string{"src/x.ts": "A\n"}},
		{name: "header ###", answer: "### src/x.ts\n\n```ts\nA\n```\n", want: map[string]string{"src/x.ts": "A\n"}},
		{name: "header bold backticks colon", answer: "**`src/x.ts`:**\n```ts\nA\n```\n", want: map[string]string{"src/x.ts": "A\n"}},
		{name: "header File label", answer: "File: `src/x.ts`\n```ts\nA\n```\n", want: map[string]string{"src/x.ts": "A\n"}},
		{name: "header bare", answer: "src/x.ts\n```ts\nA\n```\n", want: map[string]string{"src/x.ts": "A\n"}},
		{name: "header then two blank lines is prose", answer: "src/x.ts\n\n\n```ts\nA\n```\n",
			want: map[string]string{}, prose: "src/x.ts\n\n\n```ts\nA\n```\n"},
		{name: "first line comment", answer: "```ts\n// src/x.ts\nA\n```\n", want: map[string]string{"src/x.ts": "A\n"}},
		{name: "first line html comment", answer: "```html\n<!-- index.html -->\n<p>\n```\n", want: map[string]string{"index.html": "<p>\n"}},
		{name: "unnamed fence is prose", answer: "Run:\n```bash\nnpm i\n```\n", want: map[string]string{}, prose: "Run:\n```bash\nnpm i\n```\n"},
		{name: "crlf", answer: "<file path=\"src/a.ts\">\r\nx\r\n</file>\r\n", want: map[string]string{"src/a.ts": "x\r\n"}},
		{name: "unicode content", answer: "<file path=\"src/a.ts\">\nconst s = '日本語 ✅';\n</file>\n", want: map[string]string{"src/a.ts": "const s = '日本語 ✅';\n"}},
		{name: "overwrite twice keeps last", answer: "<file path=\"a.md\">\n1\n</file>\n<file path=\"a.md\">\n2\n</file>\n", want: map[string]string{"a.md": "2\n"}},
		{name: "unterminated tag", answer: "<file path=\"a.md\">\n1\n", want: map[string]string{}, errs: []error{ErrUnterminated}},
		{name: "unterminated fence", answer: "```ts path=a.ts\n1\n", want: map[string]string{}, errs: []error{ErrUnterminated}},
		{name: "unterminated before content", answer: "```ts path=a.ts\n", want: map[string]string{}, errs: []error{ErrUnterminated}},
		{name: "no newline at end", answer: "<file path=\"a.md\">\n1\n</file>", want: map[string]string{"a.md": "1\n"}},
	})
}

func TestDeletes(t *testing.T) {
	cur := map[string]string{"src/old.ts": "x\n", "package-lock.json": "{}"}
	runCases(t, []formatCase{
		{name: "delete tag", current: cur, answer: "<delete path=\"src/old.ts\"/>\n", deleted: []string{"src/old.ts"}},
		{name: "delete tag spaced", current: cur, answer: "  <delete path=\"src/old.ts\" />\n", deleted: []string{"src/old.ts"}},
		{name: "delete missing", current: cur, answer: "<delete path=\"src/nope.ts\"/>\n", errs: []error{ErrMissingFile}},
		{name: "delete protected", current: cur, opts: Options{Protected: DefaultProtected}, answer: "<delete path=\"package-lock.json\"/>\n", errs: []error{ErrProtected}},
		{name: "delete without path", current: cur, answer: "<delete/>\n", errs: []error{ErrMalformed}},
		{name: "write then delete", current: cur, answer: "<file path=\"src/n.ts\">\nx\n</file>\n<delete path=\"src/n.ts\"/>\n", deleted: []string{"src/n.ts"}},
	})
}

func TestDiffs(t *testing.T) {
	base := "a\nb\nc\nd\ne\nf\ng\n"
	cur := map[string]string{"src/x.ts": base, "src/y.ts": "1\n2\n"}
	runCases(t, []formatCase{
		{name: "fenced", current: cur, answer: "```diff\n--- a/src/x.ts\n+++ b/src/x.ts\n@@ -2,3 +2,3 @@\n b\n-c\n+C\n d\n```\n",
			want: map[string]string{"src/x.ts": "a\nb\nC\nd\ne\nf\ng\n"}},
		{name: "patch lang", current: cur, answer: "```patch\n--- src/x.ts\n+++ src/x.ts\n@@ -1 +1 @@\n-a\n+A\n```\n",
			want: map[string]string{"src/x.ts": "A\nb\nc\nd\ne\nf\ng\n"}},
		{name: "wrong line numbers", current: cur, answer: "```diff\n--- a/src/x.ts\n+++ b/src/x.ts\n@@ -40,2 +40,2 @@\n-f\n+F\n g\n```\n",
			want: map[string]string{"src/x.ts": "a\nb\nc\nd\ne\nF\ng\n"}},
		{name: "two hunks", current: cur, answer: "```diff\n--- a/src/x.ts\n+++ b/src/x.ts\n@@ -1,2 +1,2 @@\n-a\n+A\n b\n@@ -6,2 +6,3 @@\n f\n g\n+h\n```\n",
			want: map[string]string{"src/x.ts": "A\nb\nc\nd\ne\nf\ng\nh\n"}},
		{name: "pure insertion with numbers", current: cur, answer: "```diff\n--- a/src/y.ts\n+++ b/src/y.ts\n@@ -1,0 +2,1 @@\n+1.5\n```\n",
			want: map[string]string{"src/y.ts": "1\n1.5\n2\n"}},
		{name: "whitespace tolerant", current: map[string]string{"a.ts": "if (x) {\n    go();\n}\n"},
			answer: "```diff\n--- a/a.ts\n+++ b/a.ts\n@@ -1,3 +1,3 @@\n if (x) {\n-  go();\n+    stop();\n }\n```\n",
			want:   map[string]string{"a.ts": "if (x) {\n    stop();\n}\n"}},
		{name: "blank context line in fence", current: map[string]string{"a.ts": "a\n\nb\n"},
			answer: "```diff\n--- a/a.ts\n+++ b/a.ts\n@@ -1,3 +1,3 @@\n a\n\n-b\n+B\n```\n",
			want:   map[string]string{"a.ts": "a\n\nB\n"}},
		{name: "ambiguous without numbers", current: map[string]string{"a.ts": "x\ny\nx\ny\n"},
			answer: "```diff\n--- a/a.ts\n+++ b/a.ts\n@@ @@\n x\n-y\n+z\n```\n", errs: []error{ErrAmbiguous}},
		{name: "ambiguous resolved by numbers", current: map[string]string{"a.ts": "x\ny\nx\ny\n"},
			answer: "```diff\n--- a/a.ts\n+++ b/a.ts\n@@ -3,2 +3,2 @@\n x\n-y\n+z\n```\n", want: map[string]string{"a.ts": "x\ny\nx\nz\n"}},
		{name: "no match", current: cur, answer: "```diff\n--- a/src/x.ts\n+++ b/src/x.ts\n@@ -1 +1 @@\n-zzz\n+A\n```\n", errs: []error{ErrNoMatch}},
		{name: "missing file", current: cur, answer: "```diff\n--- a/src/nope.ts\n+++ b/src/nope.ts\n@@ -1 +1 @@\n-a\n+b\n```\n", errs: []error{ErrMissingFile}},
		{name: "create", current: cur, answer: "```diff\n--- /dev/null\n+++ b/src/new.ts\n@@ -0,0 +1,2 @@\n+one\n+two\n```\n",
			want: map[string]string{"src/new.ts": "one\ntwo\n"}},
		{name: "delete", current: cur, answer: "```diff\n--- a/src/y.ts\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-1\n-2\n```\n", deleted: []string{"src/y.ts"}},
		{name: "git header only paths", current: cur, answer: "```diff\ndiff --git a/src/y.ts b/src/y.ts\n@@ -1 +1 @@\n-1\n+one\n```\n",
			want: map[string]string{"src/y.ts": "one\n2\n"}},
		{name: "bare diff ends at prose", current: cur, answer: "Here:\n--- a/src/y.ts\n+++ b/src/y.ts\n@@ -1 +1 @@\n-1\n+one\n\nDone.\n",
			want: map[string]string{"src/y.ts": "one\n2\n"}, prose: "Here:\n\nDone.\n"},
		{name: "bare diff blank context", current: map[string]string{"a.ts": "a\n\nb\n"}, answer: "--- a/a.ts\n+++ b/a.ts\n@@ -1,3 +1,3 @@\n a\n\n-b\n+B\n",
			want: map[string]string{"a.ts": "a\n\nB\n"}},
		{name: "dashes line not a diff", answer: "--- just a line\nmore\n", prose: "--- just a line\nmore\n"},
		{name: "hr is prose", answer: "a\n---\nb\n", prose: "a\n---\nb\n"},
		{name: "two files in one fence", current: cur, answer: "```diff\n--- a/src/x.ts\n+++ b/src/x.ts\n@@ -1 +1 @@\n-a\n+A\n--- a/src/y.ts\n+++ b/src/y.ts\n@@ -2 +2 @@\n-2\n+II\n```\n",
			want: map[string]string{"src/x.ts": "A\nb\nc\nd\ne\nf\ng\n", "src/y.ts": "1\nII\n"}},
		{name: "diff in tag without headers", current: cur, answer: "<file path=\"src/y.ts\">\n@@ -1 +1 @@\n-1\n+one\n</file>\n",
			want: map[string]string{"src/y.ts": "one\n2\n"}},
		{name: "diff after whole file in same answer", answer: "<file path=\"a.ts\">\nx\ny\n</file>\n```diff\n--- a/a.ts\n+++ b/a.ts\n@@ -2 +2 @@\n-y\n+z\n```\n",
			want: map[string]string{"a.ts": "x\nz\n"}},
		{name: "no hunks", current: cur, answer: "```diff\n--- a/src/x.ts\n+++ b/src/x.ts\n```\n", errs: []error{ErrMalformed}},
		{name: "unterminated fenced diff", current: cur, answer: "```diff\n--- a/src/x.ts\n+++ b/src/x.ts\n@@ -1 +1 @@\n-a\n+A\n", errs: []error{ErrUnterminated}},
		{name: "no newline at end of file marker", current: map[string]string{"a.ts": "a\nb"},
			answer: "```diff\n--- a/a.ts\n+++ b/a.ts\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n\\ No newline at end of file\n```\n",
			want:   map[string]string{"a.ts": "a\nc"}},
	})
}

func TestSearchReplace(t *testing.T) {
	cur := map[string]string{"src/a.ts": "const a = 1;\nconst b = 2;\n", "src/dup.ts": "x;\nx;\n"}
	runCases(t, []formatCase{
		{name: "bare", current: cur, answer: "src/a.ts\n<<<<<<< SEARCH\nconst a = 1;\n=======\nconst a = 10;\n>>>>>>> REPLACE\n",
			want: map[string]string{"src/a.ts": "const a = 10;\nconst b = 2;\n"}},
		{name: "fenced", current: cur, answer: "src/a.ts\n```ts\n<<<<<<< SEARCH\nconst b = 2;\n=======\nconst b = 20;\n>>>>>>> REPLACE\n```\n",
			want: map[string]string{"src/a.ts": "const a = 1;\nconst b = 20;\n"}},
		{name: "path as fence first line", current: cur, answer: "```ts\nsrc/a.ts\n<<<<<<< SEARCH\nconst b = 2;\n=======\nconst b = 20;\n>>>>>>> REPLACE\n```\n",
			want: map[string]string{"src/a.ts": "const a = 1;\nconst b = 20;\n"}},
		{name: "path after marker", current: cur, answer: "<<<<<<< SEARCH src/a.ts\nconst b = 2;\n=======\nconst b = 20;\n>>>>>>> REPLACE\n",
			want: map[string]string{"src/a.ts": "const a = 1;\nconst b = 20;\n"}},
		{name: "two blocks one fence emit once", current: cur, answer: "src/a.ts\n```ts\n<<<<<<< SEARCH\nconst a = 1;\n=======\nconst a = 10;\n>>>>>>> REPLACE\n<<<<<<< SEARCH\nconst b = 2;\n=======\nconst b = 20;\n>>>>>>> REPLACE\n```\n",
			want: map[string]string{"src/a.ts": "const a = 10;\nconst b = 20;\n"}},
		{name: "second block fails first applies", current: cur, answer: "src/a.ts\n```ts\n<<<<<<< SEARCH\nconst a = 1;\n=======\nconst a = 10;\n>>>>>>> REPLACE\n<<<<<<< SEARCH\nnope\n=======\nx\n>>>>>>> REPLACE\n```\n",
			want: map[string]string{"src/a.ts": "const a = 10;\nconst b = 2;\n"}, errs: []error{ErrNoMatch}},
		{name: "whitespace tolerant reindent", current: map[string]string{"a.ts": "function f() {\n    if (x) {\n        go();\n    }\n}\n"},
			answer: "a.ts\n<<<<<<< SEARCH\nif (x) {\n    go();\n}\n=======\nif (x) {\n    go();\n    stop();\n}\n>>>>>>> REPLACE\n",
			want:   map[string]string{"a.ts": "function f() {\n    if (x) {\n        go();\n        stop();\n    }\n}\n"}},
		{name: "last line without newline", current: map[string]string{"a.ts": "a\nb"},
			answer: "a.ts\n<<<<<<< SEARCH\nb\n=======\nc\n>>>>>>> REPLACE\n", want: map[string]string{"a.ts": "a\nc"}},
		{name: "ambiguous", current: cur, answer: "src/dup.ts\n<<<<<<< SEARCH\nx;\n=======\ny;\n>>>>>>> REPLACE\n", errs: []error{ErrAmbiguous}},
		{name: "missing file", current: cur, answer: "src/none.ts\n<<<<<<< SEARCH\nx;\n=======\ny;\n>>>>>>> REPLACE\n", errs: []error{ErrMissingFile}},
		{name: "empty search creates", current: cur, answer: "src/new.ts\n<<<<<<< SEARCH\n=======\nexport {};\n>>>>>>> REPLACE\n",
			want: map[string]string{"src/new.ts": "export {};\n"}},
		{name: "empty search on existing file", current: cur, answer: "src/a.ts\n<<<<<<< SEARCH\n=======\nx\n>>>>>>> REPLACE\n", errs: []error{ErrMalformed}},
		{name: "no path", current: cur, answer: "<<<<<<< SEARCH\nconst a = 1;\n=======\nx\n>>>>>>> REPLACE\n", errs: []error{ErrMalformed}},
		{name: "no divider", current: cur, answer: "src/a.ts\n<<<<<<< SEARCH\nconst a = 1;\n>>>>>>> REPLACE\n", errs: []error{ErrMalformed}},
		{name: "missing replace marker then next block", current: cur, answer: "src/a.ts\n```\n<<<<<<< SEARCH\nconst a = 1;\n=======\nconst a = 10;\n<<<<<<< SEARCH\nconst b = 2;\n=======\nconst b = 20;\n>>>>>>> REPLACE\n```\n",
			want: map[string]string{"src/a.ts": "const a = 10;\nconst b = 20;\n"}},
		{name: "unterminated", current: cur, answer: "src/a.ts\n<<<<<<< SEARCH\nconst a = 1;\n=======\n", errs: []error{ErrUnterminated}},
		{name: "unterminated in fence", current: cur, answer: "src/a.ts\n```\n<<<<<<< SEARCH\nconst a = 1;\n```\n", errs: []error{ErrUnterminated}},
		{name: "edit after edit same answer", current: cur, answer: "src/a.ts\n<<<<<<< SEARCH\nconst a = 1;\n=======\nconst a = 10;\n>>>>>>> REPLACE\nsrc/a.ts\n<<<<<<< SEARCH\nconst a = 10;\n=======\nconst a = 100;\n>>>>>>> REPLACE\n",
			want: map[string]string{"src/a.ts": "const a = 100;\nconst b = 2;\n"}},
	})
}

func TestLimits(t *testing.T) {
	big := strings.Repeat("x", 100) + "\n"
	runCases(t, []formatCase{
		{name: "file too large", opts: Options{MaxFileBytes: 250}, answer: "<file path=\"a.ts\">\n" + big + big + big + "</file>\nafter\n",
			want: map[string]string{}, errs: []error{ErrTooLarge}, prose: "after\n"},
		{name: "too large then next file ok", opts: Options{MaxFileBytes: 250}, answer: "```ts path=a.ts\n" + big + big + big + "```\n<file path=\"b.ts\">\n" + big + "</file>\n",
			want: map[string]string{"b.ts": big}, errs: []error{ErrTooLarge}},
		{name: "long line without newline", opts: Options{MaxFileBytes: 250}, answer: "<file path=\"a.ts\">\n" + strings.Repeat("y", 2000) + "\n</file>\n",
			want: map[string]string{}, errs: []error{ErrTooLarge}},
		{name: "too many files", opts: Options{MaxFiles: 2}, answer: "<file path=\"a.ts\">\n1\n</file>\n<file path=\"b.ts\">\n2\n</file>\n<file path=\"c.ts\">\n3\n</file>\n<file path=\"a.ts\">\n4\n</file>\n",
			want: map[string]string{"a.ts": "4\n", "b.ts": "2\n"}, errs: []error{ErrTooManyFiles}},
		{name: "protected pattern", opts: Options{Protected: []string{"public/*"}}, answer: "<file path=\"public/x.svg\">\n<svg/>\n</file>\n",
			errs: []error{ErrProtected}},
		{name: "node_modules", answer: "<file path=\"node_modules/x/index.js\">\nx\n</file>\n", errs: []error{ErrBadPath}},
		{name: "dotdot", answer: "```ts path=src/../../x.ts\nx\n```\n", errs: []error{ErrBadPath}},
		{name: "extension", answer: "<file path=\"src/run.sh\">\nrm -rf /\n</file>\n", errs: []error{ErrBadPath}},
	})
}

func TestErrorMessages(t *testing.T) {
	evs := parseChunks(map[string]string{"src/a.ts": "x\n"}, Options{Protected: DefaultProtected},
		"<file path=\"package-lock.json\">\n{}\n</file>\nsrc/a.ts\n<<<<<<< SEARCH\nnothing like this\n=======\ny\n>>>>>>> REPLACE\n")
	var msgs []string
	for _, ev := range evs {
		if ev.Kind == BlockError {
			msgs = append(msgs, ev.Err.Error())
		}
	}
	want := []string{
		"editformat: line 1: package-lock.json: this file is managed by stich and cannot be changed by the model; leave it out",
		`editformat: line 5: src/a.ts: the SEARCH/REPLACE block does not apply: the SEARCH text starting "nothing like this" is not in the file; quote the current content exactly`,
	}
	if strings.Join(msgs, "\n") != strings.Join(want, "\n") {
		t.Fatalf("messages:\n%s\nwant:\n%s", strings.Join(msgs, "\n"), strings.Join(want, "\n"))
	}
}

func TestStreamsBeforeClose(t *testing.T) {
	p := NewParser(nil, Options{})
	evs, _ := p.Write("<file path=\"src/a.ts\">\nline one\nline t")
	got := render(evs)
	if got != "started src/a.ts whole line=1\nchunk src/a.ts \"line one\\n\"\n" {
		t.Fatalf("after first write:\n%s", got)
	}
	evs, _ = p.Write("wo\n")
	if got := render(evs); got != "chunk src/a.ts \"line two\\n\"\n" {
		t.Fatalf("after second write:\n%s", got)
	}
	if _, err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Write("x"); !errors.Is(err, ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
}

func TestFilesResult(t *testing.T) {
	p := NewParser(map[string]string{"a.ts": "1\n", "b.ts": "2\n"}, Options{})
	p.Write("<file path=\"c.ts\">\n3\n</file>\n<delete path=\"b.ts\"/>\na.ts\n<<<<<<< SEARCH\n1\n=======\none\n>>>>>>> REPLACE\n")
	p.Close()
	w, d := p.Files()
	if len(w) != 2 || w["c.ts"] != "3\n" || w["a.ts"] != "one\n" || len(d) != 1 || d[0] != "b.ts" {
		t.Fatalf("written %v deleted %v", w, d)
	}
}

// TestNoCopyMerge checks that lines of one chunk become one event sharing
// the chunk's memory.
func TestNoCopyMerge(t *testing.T) {
	p := NewParser(nil, Options{})
	body := strings.Repeat("const x = 1;\n", 100)
	evs, _ := p.Write("<file path=\"a.ts\">\n" + body + "</file>\n")
	if len(evs) != 3 || evs[1].Data != body {
		t.Fatalf("got %d events:\n%s", len(evs), render(evs))
	}
	allocs := testing.AllocsPerRun(100, func() {
		p := NewParser(nil, Options{})
		p.Write("Some prose.\n" + body + "More prose.\n")
	})
	if allocs > 12 {
		t.Errorf("parsing prose allocates %v times", allocs)
	}
}
