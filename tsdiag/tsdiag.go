// Package tsdiag owns [Diagnostic], the one shape of a compiler or bundler
// diagnostic shared by the sandbox (which parses tsc's output), the preview
// bundler (which reports esbuild's errors) and the fixer (which consumes
// them), so that none of them imports another only for the type.
//
// Package tsdiag imports nothing of stich.
package tsdiag

import (
	"fmt"
	"strings"
)

// Diagnostic is one compiler or bundler diagnostic, in the shape tsc prints
// with --pretty false. The fixer consumes it and the preview bundler
// produces it.
type Diagnostic struct {
	// Code is the TypeScript error number (2307 for TS2307); 0 when the
	// tool has none (bundler errors).
	Code int `json:"code"`
	// Category is "error", "warning", "suggestion" or "message".
	Category string `json:"category"`
	// File is slash-separated and relative to the app root; "" for a
	// diagnostic about the whole program (a bad tsconfig).
	File string `json:"file,omitempty"`
	// Line and Column are 1-based (Column counts UTF-16 units, as tsc
	// does); 0 when File is "".
	Line   int `json:"line,omitempty"`
	Column int `json:"column,omitempty"`
	// Message is the text; continuation lines of a message chain are kept,
	// joined with "\n" and without their indentation.
	Message string `json:"message"`
}

// String renders d as tsc does.
func (d Diagnostic) String() string {
	code := ""
	if d.Code > 0 {
		code = fmt.Sprintf(" TS%d", d.Code)
	}
	msg := strings.ReplaceAll(d.Message, "\n", "\n  ")
	if d.File == "" {
		return fmt.Sprintf("%s%s: %s", d.Category, code, msg)
	}
	return fmt.Sprintf("%s(%d,%d): %s%s: %s", d.File, d.Line, d.Column, d.Category, code, msg)
}
