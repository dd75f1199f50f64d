package editformat

import (
	"errors"
	"strings"
)

// This file holds the parser's states for edits: unified diffs and
// SEARCH/REPLACE blocks, applied (by apply.go) when a block or section is
// complete.

// startDiff begins reading a unified diff in the current container.
func (p *Parser) startDiff() {
	p.mode = mDiff
	p.df, p.dfHeld, p.dfBlanks, p.dfBytes, p.inHunk = nil, "", 0, 0, false
	p.diffPath0 = p.path
	if p.blockLine == 0 || p.cont == cNone {
		p.blockLine = p.lineNo
	}
}

// diffLine reads one line of a diff; it returns true when the line ends a
// bare diff and must be read again as prose.
func (p *Parser) diffLine(l, t string) bool {
	if p.cont != cNone && p.containerEnds(t) || p.cont == cTag && p.inner && fenceClose(t, p.innerCh, p.innerLen) {
		if p.cont == cTag && !fileClose(t) {
			if _, ok := fileCloseSuffix(t); !ok {
				return false // the inner fence's end; </file> follows
			}
		}
		p.flushDiffHeld()
		p.finishDiffFile()
		p.closeContainer()
		return false
	}
	if len(t) > p.opts.MaxFileBytes || p.dfBytes > 2*p.opts.MaxFileBytes {
		p.fail(p.diffTarget(p.df), FormatDiff, p.blockLine, ErrTooLarge, "the diff is larger than %d KiB; send smaller edits", 2*p.opts.MaxFileBytes>>10)
		p.df = nil
		p.skipDiff()
		return false
	}
	p.dfBytes += len(l)
	if p.dfHeld != "" {
		held := p.dfHeld
		p.dfHeld = ""
		if strings.HasPrefix(t, "+++ ") {
			p.finishDiffFile()
			p.df = &diffFile{oldPath: diffPath(held[4:]), newPath: diffPath(t[4:]), line: p.lineNo - 1}
			p.inHunk = false
			return false
		}
		p.hunkLine('-', held[1:])
	}
	switch {
	case strings.HasPrefix(t, "diff --git "):
		p.finishDiffFile()
		_, b := gitPaths(t)
		p.df = &diffFile{gitPath: b, line: p.lineNo}
		p.inHunk, p.dfBlanks = false, 0
		return false
	case strings.HasPrefix(t, "--- ") && p.inHunk:
		p.dfHeld = t
		return false
	case strings.HasPrefix(t, "--- "):
		if p.df != nil && (len(p.df.hunks) > 0 || p.df.oldPath != "") {
			p.finishDiffFile()
		}
		if p.df == nil {
			p.df = &diffFile{line: p.lineNo}
		}
		p.df.oldPath = diffPath(t[4:])
		p.dfBlanks = 0
		return false
	case strings.HasPrefix(t, "+++ ") && !p.inHunk:
		if p.df == nil {
			p.df = &diffFile{line: p.lineNo}
		}
		p.df.newPath = diffPath(t[4:])
		p.dfBlanks = 0
		return false
	}
	if start, nums, ok := hunkStart(t); ok {
		if p.df == nil {
			p.df = &diffFile{line: p.lineNo}
		}
		p.df.hunks = append(p.df.hunks, hunk{oldStart: start, hasNumbers: nums})
		p.inHunk, p.dfBlanks = true, 0
		return false
	}
	if p.inHunk {
		switch {
		case t == "":
			if p.cont == cNone {
				p.dfBlanks++
			} else {
				p.hunkLine(' ', "")
			}
			return false
		case t[0] == ' ' || t[0] == '-' || t[0] == '+':
			p.hunkLine(t[0], t[1:])
			return false
		case t[0] == '\\':
			return false // "\ No newline at end of file"
		}
	}
	if diffMeta(t) || strings.TrimSpace(t) == "" && p.cont != cNone {
		return false
	}
	if p.cont == cNone {
		if strings.TrimSpace(t) == "" {
			p.dfBlanks++
			return false
		}
		// The bare diff ended: the line is prose.
		blanks := p.dfBlanks
		p.finishDiffFile()
		p.closeContainer()
		for range blanks {
			p.prose("\n", false)
		}
		return true
	}
	p.inHunk = false // commentary inside a fenced diff
	return false
}

func (p *Parser) hunkLine(op byte, text string) {
	if p.df == nil || len(p.df.hunks) == 0 {
		return
	}
	h := &p.df.hunks[len(p.df.hunks)-1]
	for ; p.dfBlanks > 0; p.dfBlanks-- {
		h.lines = append(h.lines, dline{' ', ""})
	}
	h.lines = append(h.lines, dline{op, text})
}

func (p *Parser) flushDiffHeld() {
	if p.dfHeld != "" {
		p.hunkLine('-', p.dfHeld[1:])
		p.dfHeld = ""
	}
}

func (p *Parser) skipDiff() {
	p.mode = mSkip
	if p.cont == cNone {
		// A bare diff ends at its first non-diff line.
		p.skipUntil = func(t string) bool {
			return t != "" && !strings.ContainsRune(" +-@\\", rune(t[0])) && !diffMeta(t)
		}
	}
}

// diffTarget is the file a diff section edits: the enclosing <file>
// block's path, else the +++ path, else the --- path, else git's.
func (p *Parser) diffTarget(df *diffFile) string {
	switch {
	case p.diffPath0 != "":
		return p.diffPath0
	case df == nil:
		return ""
	case df.newPath != "" && df.newPath != "/dev/null":
		return df.newPath
	case df.oldPath != "" && df.oldPath != "/dev/null":
		return df.oldPath
	}
	return df.gitPath
}

// finishDiffFile applies the current diff section and emits the file.
func (p *Parser) finishDiffFile() {
	df := p.df
	p.df, p.inHunk, p.dfBlanks = nil, false, 0
	if df == nil {
		return
	}
	target := p.diffTarget(df)
	line := df.line
	if target == "" {
		p.fail("", FormatDiff, line, ErrMalformed, "the diff does not name its file; start it with \"--- a/path\" and \"+++ b/path\"")
		return
	}
	if df.newPath == "/dev/null" {
		p.deleteFile(target, line)
		return
	}
	if !p.checkTarget(target, FormatDiff, line) {
		return
	}
	if len(df.hunks) == 0 {
		p.fail(target, FormatDiff, line, ErrMalformed, "the diff has no @@ hunks")
		return
	}
	base, ok := p.content(target)
	if df.oldPath == "/dev/null" {
		base, ok = "", true
	}
	if !ok {
		p.fail(target, FormatDiff, line, ErrMissingFile, "cannot apply a diff: the file does not exist; send the whole file in a <file> block")
		return
	}
	out, err := applyHunks(base, df.hunks)
	if err != nil {
		p.editFailed(target, FormatDiff, line, err)
		return
	}
	if len(out) > p.opts.MaxFileBytes {
		p.fail(target, FormatDiff, line, ErrTooLarge, "the edited file is larger than %d KiB", p.opts.MaxFileBytes>>10)
		return
	}
	p.emitFile(target, FormatDiff, line, out)
}

func (p *Parser) editFailed(target string, f Format, line int, err error) {
	var me *matchErr
	sentinel := ErrNoMatch
	if errors.As(err, &me) {
		sentinel = me.sentinel
	}
	what := "the diff"
	if f == FormatSearchReplace {
		what = "the SEARCH/REPLACE block"
	}
	p.fail(target, f, line, sentinel, "%s does not apply: %s", what, err.Error())
}

// startSR begins a SEARCH/REPLACE block for path fp in the current
// container.
func (p *Parser) startSR(fp string) {
	p.mode = mSearch
	p.srPath, p.srLine = fp, p.lineNo
	p.srSearch, p.srReplace = p.srSearch[:0], p.srReplace[:0]
	p.srNext = ""
}

func (p *Parser) stepSR(l, t string) bool {
	closes := p.cont != cNone && p.containerEnds(t)
	if p.cont == cTag && p.inner && fenceClose(t, p.innerCh, p.innerLen) {
		closes = false // inside the edit, a fence line is content
	}
	switch {
	case closes:
		p.fail(p.srPath, FormatSearchReplace, p.srLine, ErrUnterminated, "the SEARCH/REPLACE block is not finished; end it with >>>>>>> REPLACE")
		p.flushSR()
		p.closeContainer()
		return false
	case p.mode == mSearch && isDivider(t):
		p.mode = mReplace
		return false
	case p.mode == mSearch && isReplace(t):
		p.fail(p.srPath, FormatSearchReplace, p.srLine, ErrMalformed, "the SEARCH/REPLACE block has no ======= line between the two parts")
		p.afterSR()
		return false
	case p.mode == mReplace && isReplace(t):
		p.applySR()
		p.afterSR()
		return false
	}
	if sp, ok := isSearch(t); ok {
		if p.mode == mSearch {
			p.fail(p.srPath, FormatSearchReplace, p.srLine, ErrMalformed, "a SEARCH block began before the previous one was finished")
		} else {
			p.applySR() // a missing >>>>>>> REPLACE: the next block begins
		}
		if sp == "" {
			sp = p.srPath
		}
		p.startSR(sp)
		return false
	}
	part := &p.srSearch
	if p.mode == mReplace {
		part = &p.srReplace
	}
	if len(*part)+len(l) > p.opts.MaxFileBytes {
		p.fail(p.srPath, FormatSearchReplace, p.srLine, ErrTooLarge, "the SEARCH/REPLACE block is larger than %d KiB; send the whole file instead", p.opts.MaxFileBytes>>10)
		p.mode = mSkip
		if p.cont == cNone {
			p.skipUntil = isReplace
		}
		return false
	}
	*part = append(*part, l...)
	if !strings.HasSuffix(l, "\n") {
		*part = append(*part, '\n')
	}
	return false
}

func (p *Parser) afterSR() {
	if p.cont == cNone {
		p.flushSR()
		p.mode = mProse
		return
	}
	p.mode = mSRBetween
}

// applySR applies the finished block to the working copy of its file.
func (p *Parser) applySR() {
	fp, line := p.srPath, p.srLine
	if fp == "" {
		p.fail("", FormatSearchReplace, line, ErrMalformed, "the SEARCH/REPLACE block does not name its file; put the path alone on the line before <<<<<<< SEARCH")
		return
	}
	if !p.checkTarget(fp, FormatSearchReplace, line) {
		return
	}
	search, replace := string(p.srSearch), string(p.srReplace)
	base, exists := p.content(fp)
	var out string
	switch {
	case strings.TrimSpace(search) == "" && (!exists || strings.TrimSpace(base) == ""):
		out = replace
	case strings.TrimSpace(search) == "":
		p.fail(fp, FormatSearchReplace, line, ErrMalformed, "the SEARCH part is empty but the file exists; quote the lines to replace, or send the whole file")
		return
	case !exists:
		p.fail(fp, FormatSearchReplace, line, ErrMissingFile, "cannot edit it: the file does not exist; send the whole file in a <file> block")
		return
	default:
		var err error
		if out, err = applySearchReplace(base, search, replace); err != nil {
			p.editFailed(fp, FormatSearchReplace, line, err)
			return
		}
	}
	if len(out) > p.opts.MaxFileBytes {
		p.fail(fp, FormatSearchReplace, line, ErrTooLarge, "the edited file is larger than %d KiB", p.opts.MaxFileBytes>>10)
		return
	}
	p.overlay[fp] = out
	delete(p.gone, fp)
	p.touch(fp)
	for _, d := range p.srDirty {
		if d == fp {
			return
		}
	}
	p.srDirty = append(p.srDirty, fp)
}

// flushSR emits every file SEARCH/REPLACE blocks changed.
func (p *Parser) flushSR() {
	for _, f := range p.srDirty {
		c := p.overlay[f]
		p.emitFile(f, FormatSearchReplace, p.srLine, c)
	}
	p.srDirty = p.srDirty[:0]
}

func (p *Parser) stepSRBetween(t string) {
	if p.containerEnds(t) {
		p.flushSR()
		p.closeContainer()
		return
	}
	if sp, ok := isSearch(t); ok {
		switch {
		case sp != "":
		case p.srNext != "":
			sp = p.srNext
		default:
			sp = p.srPath
		}
		p.startSR(sp)
		return
	}
	if hp, ok := headerPath(t); ok {
		p.srNext = hp
	}
}
