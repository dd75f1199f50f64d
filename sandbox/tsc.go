package sandbox

import (
	"context"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/stichdev/stich/tsdiag"
)

// Diagnostic is [tsdiag.Diagnostic], named here for the packages that
// already use sandbox (fixer, appbuild).
type Diagnostic = tsdiag.Diagnostic

var (
	tscLocated = regexp.MustCompile(`^(.+)\((\d+),(\d+)\): (error|warning|suggestion|message) TS(\d+): (.*)$`)
	tscGlobal  = regexp.MustCompile(`^(error|warning|suggestion|message) TS(\d+): (.*)$`)
)

// maxDiagnostics bounds what ParseTSC returns, whatever the input size.
const maxDiagnostics = 5000

// ParseTSC parses the output of "tsc --noEmit --pretty false". root is the
// folder tsc ran in as tsc saw it (AppDir inside the sandbox): absolute
// file names under it become relative. Lines that are no diagnostic (npm
// noise, "Found 3 errors") are ignored; indented lines after a diagnostic
// continue its message. It never fails: unparseable input yields fewer
// diagnostics.
func ParseTSC(output, root string) []Diagnostic {
	var out []Diagnostic
	root = strings.TrimSuffix(root, "/")
	for _, line := range strings.Split(output, "\n") {
		line = strings.TrimSuffix(line, "\r")
		if len(out) > 0 && strings.HasPrefix(line, "  ") && strings.TrimSpace(line) != "" {
			d := &out[len(out)-1]
			if len(d.Message) < 16<<10 {
				d.Message += "\n" + strings.TrimSpace(line)
			}
			continue
		}
		if len(out) >= maxDiagnostics {
			break
		}
		if m := tscLocated.FindStringSubmatch(line); m != nil {
			ln, err1 := strconv.Atoi(m[2])
			col, err2 := strconv.Atoi(m[3])
			code, err3 := strconv.Atoi(m[5])
			if err1 != nil || err2 != nil || err3 != nil {
				continue
			}
			out = append(out, Diagnostic{Code: code, Category: m[4], File: relFile(m[1], root), Line: ln, Column: col, Message: m[6]})
			continue
		}
		if m := tscGlobal.FindStringSubmatch(line); m != nil {
			code, err := strconv.Atoi(m[2])
			if err != nil {
				continue
			}
			out = append(out, Diagnostic{Code: code, Category: m[1], Message: m[3]})
			continue
		}
	}
	return out
}

// relFile makes a tsc file name slash-separated and relative to root.
func relFile(name, root string) string {
	name = strings.ReplaceAll(name, "\\", "/")
	if root != "" && strings.HasPrefix(name, root+"/") {
		name = name[len(root)+1:]
	}
	return path.Clean(name)
}

// TypeCheckOptions tune [TypeCheck].
type TypeCheckOptions struct {
	// Dir is the app folder inside the workspace ("" for its root).
	Dir string
	// Timeout is the wall-clock limit (default 2 minutes).
	Timeout time.Duration
	// Mounts are passed to the command (a shared node_modules).
	Mounts []Mount
	// OnLine receives tsc's output lines.
	OnLine func(Line)
}

// ErrTypeCheck: tsc did not run to a verdict (missing, crashed, killed).
var ErrTypeCheck = errors.New("sandbox: type-check failed to run")

// TypeCheck runs "tsc --noEmit --pretty false" in workspace id (the app's
// own tsc from node_modules/.bin, which is what npx would run) and returns
// its diagnostics. No diagnostics and a nil error means the app
// type-checks. tsc exiting non-zero without printing a diagnostic is an
// error wrapping [ErrTypeCheck].
func TypeCheck(ctx context.Context, r Runner, id string, opts TypeCheckOptions) ([]Diagnostic, Result, error) {
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	var b strings.Builder
	res, err := r.Run(ctx, id, Command{
		Args:    []string{"tsc", "--noEmit", "--pretty", "false"},
		Dir:     opts.Dir,
		Timeout: timeout,
		Mounts:  opts.Mounts,
		OnLine: func(l Line) {
			if l.Stream == Stdout && b.Len() < 32<<20 {
				b.WriteString(l.Text)
				b.WriteByte('\n')
			}
			if opts.OnLine != nil {
				opts.OnLine(l)
			}
		},
	})
	if err != nil {
		return nil, res, fmt.Errorf("%w: %w", ErrTypeCheck, err)
	}
	root := path.Join(AppDir, opts.Dir)
	diags := ParseTSC(b.String(), root)
	if res.ExitCode != 0 && len(diags) == 0 {
		return nil, res, fmt.Errorf("%w: tsc exited with status %d: %s", ErrTypeCheck, res.ExitCode, lastLines(res, 8))
	}
	return diags, res, nil
}
