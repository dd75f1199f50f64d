package fixer

import (
	"strings"
	"testing"

	"github.com/stichdev/stich/sandbox"
)

// The rules that act on a parser site get one: their codes are queried.
func TestSiteRulesQueried(t *testing.T) {
	for _, code := range []int{2722, 18046, 7031, 2554, 2322, 7006} {
		if !queried[code] || !handled(code) {
			t.Errorf("TS%d: queried %v, handled %v", code, queried[code], handled(code))
		}
	}
}

// The rules of rules_more.go on sites as the parser reports them; each
// case also checks what the rule must leave alone.
func TestPlanMoreRules(t *testing.T) {
	at := func(src, sub string) int {
		i := strings.Index(src, sub)
		if i < 0 {
			t.Fatalf("%q not in source", sub)
		}
		return i
	}

	// createContext<T | null>() gets null; a type without null or
	// undefined needs a real default.
	ctx := "const C = createContext<Value | null>();\n"
	d := sandbox.Diagnostic{Code: 2554, File: "src/c.tsx", Line: 1, Column: 11, Message: "Expected 1 arguments, but got 0."}
	s := &site{Kind: "call0", Name: "createContext", At: at(ctx, ">()") + 2, Start: at(ctx, "<") + 1, End: at(ctx, ">("), Text: "Value | null"}
	if got := planOne(map[string]string{"src/c.tsx": ctx}, d, s).Files["src/c.tsx"]; got != "const C = createContext<Value | null>(null);\n" {
		t.Errorf("createContext default:\n%s", got)
	}
	s.Text = "Array<Value | null>"
	if res := planOne(map[string]string{"src/c.tsx": ctx}, d, s); len(res.Files) != 0 {
		t.Errorf("createContext without null at the top level: %v", res.Files)
	}

	// this.props.onChange(count); as a statement: ?.( ; as a value: left.
	call := "    this.props.onChange(count);\n"
	d = sandbox.Diagnostic{Code: 2722, File: "src/r.tsx", Line: 1, Column: 5, Message: "Cannot invoke an object which is possibly 'undefined'."}
	s = &site{Kind: "optcall", Name: "this.props.onChange", Start: 4, End: at(call, "("), At: at(call, "("), Flag: true}
	if got := planOne(map[string]string{"src/r.tsx": call}, d, s).Files["src/r.tsx"]; got != "    this.props.onChange?.(count);\n" {
		t.Errorf("optional call:\n%s", got)
	}
	s.Flag = false
	if res := planOne(map[string]string{"src/r.tsx": call}, d, s); len(res.Files) != 0 {
		t.Errorf("optional call whose value is used: %v", res.Files)
	}

	// err.message on a catch variable.
	caught := "} catch (err) {\n  warn(err.message);\n}\n"
	d = sandbox.Diagnostic{Code: 18046, File: "src/s.ts", Line: 2, Column: 8, Message: "'err' is of type 'unknown'."}
	s = &site{Kind: "caught", Name: "err", Text: "message", Start: at(caught, "err.message"), End: at(caught, "err.message") + len("err.message"), Flag: true}
	if got := planOne(map[string]string{"src/s.ts": caught}, d, s).Files["src/s.ts"]; !strings.Contains(got, "warn((err instanceof Error ? err.message : String(err)));") {
		t.Errorf("caught message:\n%s", got)
	}
	s.Flag = false // not a catch clause's variable
	if res := planOne(map[string]string{"src/s.ts": caught}, d, s); len(res.Files) != 0 {
		t.Errorf("unknown that is no catch variable: %v", res.Files)
	}

	// A component destructuring only children.
	comp := "import { useState } from \"react\";\nexport function Shell({ children }) {\n  return <main>{children}</main>;\n}\n"
	d = sandbox.Diagnostic{Code: 7031, File: "src/Shell.tsx", Line: 2, Column: 25, Message: "Binding element 'children' implicitly has an 'any' type."}
	s = &site{Kind: "pattern", Name: "Shell", Start: at(comp, "{ children }"), End: at(comp, "{ children }") + len("{ children }"), Count: 1, Bindings: []string{"children"}}
	got := planOne(map[string]string{"src/Shell.tsx": comp}, d, s).Files["src/Shell.tsx"]
	if !strings.Contains(got, "Shell({ children }: { children: ReactNode })") || !strings.Contains(got, "ReactNode } from \"react\"") {
		t.Errorf("children props:\n%s", got)
	}
	s.Count, s.Bindings = 2, []string{"children", "title"}
	if res := planOne(map[string]string{"src/Shell.tsx": comp}, d, s); len(res.Files) != 0 {
		t.Errorf("children with other props (their types are the author's): %v", res.Files)
	}

	// A method typed from its base class.
	cls := "class B extends Component<P, S> {\n  componentDidCatch(error) {}\n}\n"
	d = sandbox.Diagnostic{Code: 7006, File: "src/b.tsx", Line: 2, Column: 21, Message: "Parameter 'error' implicitly has an 'any' type."}
	s = &site{Kind: "param", Name: "error", Start: at(cls, "error)"), End: at(cls, "error)") + 5, Count: 1, Parens: true, Method: true, BaseType: "Error"}
	if got := planOne(map[string]string{"src/b.tsx": cls}, d, s).Files["src/b.tsx"]; !strings.Contains(got, "componentDidCatch(error: Error) {}") {
		t.Errorf("base class parameter:\n%s", got)
	}
	s.BaseType = ""
	if res := planOne(map[string]string{"src/b.tsx": cls}, d, s); len(res.Files) != 0 {
		t.Errorf("no base type: %v", res.Files)
	}
}
