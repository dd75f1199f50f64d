package editformat

import (
	"fmt"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/stichdev/stich/codegen"
)

// Options bound what one answer may write.
type Options struct {
	// Protected lists files the answer may not create, change or delete,
	// as path.Match patterns ("package-lock.json", "public/*"). Default:
	// none; see [DefaultProtected].
	Protected []string
	// MaxFileBytes bounds one file's content, and one SEARCH or REPLACE
	// part. Default codegen.MaxFileBytes (512 KiB).
	MaxFileBytes int
	// MaxFiles bounds how many distinct files one answer may write or
	// delete. Default codegen.MaxFiles (200).
	MaxFiles int
}

// DefaultProtected are files no model answer should write: lockfiles are
// produced by npm, never by a model.
var DefaultProtected = []string{"package-lock.json", "yarn.lock", "pnpm-lock.yaml", "npm-shrinkwrap.json"}

func (o Options) withDefaults() Options {
	if o.MaxFileBytes <= 0 {
		o.MaxFileBytes = codegen.MaxFileBytes
	}
	if o.MaxFiles <= 0 {
		o.MaxFiles = codegen.MaxFiles
	}
	return o
}

type mode uint8

const (
	mProse        mode = iota
	mFenceProse        // a fence without a path: prose until it closes
	mSniffUnnamed      // a fence without a path: its first line decides
	mSniff             // a block with a path: its first line decides
	mSniffDiffHdr      // ... whose first line was "--- x": the next decides
	mWhole             // streaming a whole file
	mDiff              // reading a unified diff
	mSearch            // SEARCH part of a SEARCH/REPLACE block
	mReplace           // REPLACE part
	mSRBetween         // inside a container, between SEARCH/REPLACE blocks
	mSkip              // discarding a failed block until its container ends
)

type container uint8

const (
	cNone  container = iota // bare in prose
	cFence                  // a ``` fence
	cTag                    // <file>...</file>
)

// Parser reads one model answer. Create it with [NewParser], feed it with
// [Parser.Write] and finish with [Parser.Close].
type Parser struct {
	opts    Options
	current map[string]string // caller's files; read only
	overlay map[string]string // files written by this answer
	gone    map[string]bool   // files deleted by this answer
	touched map[string]bool   // files written or deleted (for MaxFiles)
	order   []string          // touched, in order

	events  []Event
	partial []byte
	lineNo  int
	closed  bool
	maxLine int

	// Merging consecutive lines of one chunk into one event without
	// copying: the current line's span in chunk, and the span the last
	// event covers.
	chunk                string
	spanStart, spanEnd   int // current line; spanStart < 0 if not from chunk
	mergeStart, mergeEnd int // last event; mergeEnd < 0 if not mergeable
	mergeKind            EventKind

	mode      mode
	cont      container
	fenceCh   byte
	fenceLen  int
	inner     bool // a fence just inside <file>
	innerCh   byte
	innerLen  int
	nest      int // nested fences inside a fenced whole file
	blockLine int
	path      string
	purpose   string

	// Held lines: a path header waiting for its fence, a "--- " line
	// waiting for "+++ ", a fence opener waiting for its first line, a
	// closing inner fence waiting for </file>.
	held       []string
	heldPath   string
	heldDiff   string
	heldCloser string

	// Whole file.
	buf []byte

	// Diff.
	df        *diffFile
	dfHeld    string // "--- " inside a hunk: a removed line or a new header
	dfBlanks  int
	dfBytes   int
	inHunk    bool
	diffPath0 string // the container's path, if any

	// SEARCH/REPLACE.
	srPath    string
	srLine    int
	srSearch  []byte
	srReplace []byte
	srDirty   []string
	srNext    string // a path line seen between blocks
	skipUntil func(t string) bool
}

type diffFile struct {
	oldPath, newPath, gitPath string
	hunks                     []hunk
	line                      int
}

// NewParser returns a parser for one answer. current holds the app's files
// as they are before the answer (for diffs and SEARCH/REPLACE); it is not
// modified and must not change while the parser is in use.
func NewParser(current map[string]string, opts Options) *Parser {
	opts = opts.withDefaults()
	return &Parser{
		opts:     opts,
		current:  current,
		overlay:  map[string]string{},
		gone:     map[string]bool{},
		touched:  map[string]bool{},
		maxLine:  opts.MaxFileBytes + 1,
		mergeEnd: -1,
	}
}

// Write feeds the next chunk of the answer and returns the events it
// completes. The returned slice is reused by the next call.
func (p *Parser) Write(chunk string) ([]Event, error) {
	if p.closed {
		return nil, ErrClosed
	}
	p.events = p.events[:0]
	p.chunk, p.mergeEnd = chunk, -1
	start := 0
	if len(p.partial) > 0 {
		i := strings.IndexByte(chunk, '\n')
		if i < 0 {
			p.partial = append(p.partial, chunk...)
			p.cutPartial()
			return p.events, nil
		}
		l := string(append(p.partial, chunk[:i+1]...))
		p.partial = p.partial[:0]
		p.spanStart = -1
		p.feedLine(l)
		start = i + 1
	}
	for start < len(chunk) {
		i := strings.IndexByte(chunk[start:], '\n')
		if i < 0 {
			p.partial = append(p.partial, chunk[start:]...)
			p.cutPartial()
			break
		}
		end := start + i + 1
		p.spanStart, p.spanEnd = start, end
		p.feedLine(chunk[start:end])
		start = end
	}
	p.chunk = ""
	return p.events, nil
}

// Close ends the answer: a last line without a newline is read, and blocks
// still open become BlockErrors (or, where their end is implied, complete).
// The returned slice is valid until the parser is dropped.
func (p *Parser) Close() ([]Event, error) {
	if p.closed {
		return nil, ErrClosed
	}
	p.closed = true
	p.events = p.events[:0]
	p.mergeEnd = -1
	if len(p.partial) > 0 {
		p.spanStart = -1
		p.feedLine(string(p.partial))
		p.partial = nil
	}
	p.spanStart = -1
	p.finish()
	return p.events, nil
}

// Files returns the content of every file the answer wrote, after its
// edits, and the files it deleted.
func (p *Parser) Files() (written map[string]string, deleted []string) {
	written = make(map[string]string, len(p.overlay))
	for _, f := range p.order {
		if c, ok := p.overlay[f]; ok {
			written[f] = c
		} else if p.gone[f] {
			deleted = append(deleted, f)
		}
	}
	return written, deleted
}

// cutPartial bounds the partial line: a line longer than maxLine is read
// in pieces cut at fixed offsets, so the result does not depend on how it
// was split.
func (p *Parser) cutPartial() {
	for len(p.partial) > p.maxLine {
		n := runeCut(p.partial, p.maxLine)
		p.spanStart = -1
		p.line(string(p.partial[:n]), true)
		rest := copy(p.partial, p.partial[n:])
		p.partial = p.partial[:rest]
	}
}

// runeCut returns n, moved back to a rune start.
func runeCut(b []byte, n int) int {
	for m := n; m > n-utf8.UTFMax && m > 0; m-- {
		if utf8.RuneStart(b[m]) {
			return m
		}
	}
	return n
}

// runeCutString is runeCut for a string.
func runeCutString(s string, n int) int {
	for m := n; m > n-utf8.UTFMax && m > 0; m-- {
		if utf8.RuneStart(s[m]) {
			return m
		}
	}
	return n
}

func (p *Parser) feedLine(l string) {
	for len(l) > p.maxLine {
		n := runeCutString(l, p.maxLine)
		p.spanStart = -1
		p.line(l[:n], true)
		l = l[n:]
	}
	p.line(l, false)
}

// emit appends an event that is not line data.
func (p *Parser) emit(ev Event) {
	p.mergeEnd = -1
	p.events = append(p.events, ev)
}

// emitData appends line data as a Prose or FileChunk event, extending the
// previous event in place when the line directly follows it in the chunk.
func (p *Parser) emitData(kind EventKind, path, data string, fromLine bool) {
	if data == "" {
		return
	}
	if fromLine && p.spanStart >= 0 && p.mergeEnd == p.spanStart && p.mergeKind == kind && len(p.events) > 0 {
		last := &p.events[len(p.events)-1]
		if last.Path == path {
			p.mergeEnd = p.spanEnd
			last.Data = p.chunk[p.mergeStart:p.mergeEnd]
			return
		}
	}
	p.events = append(p.events, Event{Kind: kind, Path: path, Data: data})
	if fromLine && p.spanStart >= 0 && len(data) == p.spanEnd-p.spanStart {
		p.mergeStart, p.mergeEnd, p.mergeKind = p.spanStart, p.spanEnd, kind
	} else {
		p.mergeEnd = -1
	}
}

func (p *Parser) prose(l string, fromLine bool) { p.emitData(Prose, "", l, fromLine) }

func (p *Parser) releaseHeld() {
	for _, h := range p.held {
		p.prose(h, false)
	}
	p.held = p.held[:0]
	p.heldPath = ""
}

// fail emits a BlockError.
func (p *Parser) fail(raw string, f Format, line int, sentinel error, msg string, args ...any) {
	if len(args) > 0 {
		msg = fmt.Sprintf(msg, args...)
	}
	e := &Error{Path: validPath(raw), Line: line, Format: f, Err: sentinel, Msg: msg}
	p.emit(Event{Kind: BlockError, Path: e.Path, Format: f, Err: e, Line: line})
}

// checkTarget validates a path the answer wants to write or delete.
func (p *Parser) checkTarget(raw string, f Format, line int) bool {
	if err := codegen.CheckPath(raw); err != nil {
		msg := err.Error()
		if i := strings.LastIndex(msg, "\": "); i >= 0 {
			msg = msg[i+3:]
		}
		p.fail(raw, f, line, fmt.Errorf("%w: %w", ErrBadPath, err), "cannot write %s: %s", quote(raw), msg)
		return false
	}
	for _, pat := range p.opts.Protected {
		if ok, _ := path.Match(pat, raw); ok || pat == raw {
			p.fail(raw, f, line, ErrProtected, "this file is managed by stich and cannot be changed by the model; leave it out")
			return false
		}
	}
	if !p.touched[raw] && len(p.touched) >= p.opts.MaxFiles {
		p.fail(raw, f, line, ErrTooManyFiles, "one answer may write at most %d files; split the change", p.opts.MaxFiles)
		return false
	}
	return true
}

func (p *Parser) touch(f string) {
	if !p.touched[f] {
		p.touched[f] = true
		p.order = append(p.order, f)
	}
}

// content returns a file's current content for an edit.
func (p *Parser) content(f string) (string, bool) {
	if c, ok := p.overlay[f]; ok {
		return c, true
	}
	if p.gone[f] {
		return "", false
	}
	c, ok := p.current[f]
	return c, ok
}

// emitFile emits an edited file whole.
func (p *Parser) emitFile(f string, format Format, line int, content string) {
	p.emit(Event{Kind: FileStarted, Path: f, Purpose: p.purpose, Format: format, Line: line})
	if content != "" {
		p.emit(Event{Kind: FileChunk, Path: f, Data: content})
	}
	p.emit(Event{Kind: FileDone, Path: f})
	p.overlay[f] = content
	delete(p.gone, f)
	p.touch(f)
}

func (p *Parser) deleteFile(f string, line int) {
	if !p.checkTarget(f, FormatDelete, line) {
		return
	}
	if _, ok := p.content(f); !ok {
		p.fail(f, FormatDelete, line, ErrMissingFile, "cannot delete it: there is no such file")
		return
	}
	delete(p.overlay, f)
	p.gone[f] = true
	p.touch(f)
	p.emit(Event{Kind: FileDeleted, Path: f, Format: FormatDelete, Line: line})
}

// line reads one line (with its "\n", except at the end of the answer).
// piece is set for a fragment of an overlong line.
func (p *Parser) line(l string, piece bool) {
	if !piece {
		p.lineNo++
	}
	t := strings.TrimRight(l, "\r\n")
	for range 4 { // a handler returns true to have the line read again in a new mode
		if !p.step(l, t, piece) {
			return
		}
	}
}

func (p *Parser) step(l, t string, piece bool) bool {
	switch p.mode {
	case mProse:
		return p.stepProse(l, t, piece)
	case mFenceProse:
		p.prose(l, true)
		if fenceClose(t, p.fenceCh, p.fenceLen) {
			p.mode = mProse
		}
	case mSniffUnnamed:
		return p.stepSniffUnnamed(l, t)
	case mSniff:
		return p.stepSniff(l, t)
	case mSniffDiffHdr:
		held := p.heldDiff
		p.heldDiff = ""
		if strings.HasPrefix(t, "+++ ") {
			p.startDiff()
			p.diffLine(held, strings.TrimRight(held, "\r\n"))
			p.diffLine(l, t)
			return false
		}
		if p.startWhole() {
			p.spanStart = -1
			p.wholeContent(held, false)
		}
		return true
	case mWhole:
		return p.stepWhole(l, t)
	case mDiff:
		return p.diffLine(l, t)
	case mSearch, mReplace:
		return p.stepSR(l, t)
	case mSRBetween:
		p.stepSRBetween(t)
	case mSkip:
		if p.containerEnds(t) {
			p.closeContainer()
		}
	}
	return false
}

// containerEnds reports whether t closes the current container (for
// cNone, whatever a skipped block waits for).
func (p *Parser) containerEnds(t string) bool {
	switch p.cont {
	case cFence:
		return fenceClose(t, p.fenceCh, p.fenceLen)
	case cTag:
		if fileClose(t) {
			return true
		}
		_, ok := fileCloseSuffix(t)
		return ok
	}
	return p.skipUntil == nil || p.skipUntil(t)
}

func (p *Parser) closeContainer() {
	p.mode, p.cont, p.inner, p.nest = mProse, cNone, false, 0
	p.path, p.purpose, p.skipUntil = "", "", nil
	p.heldCloser = ""
}

func (p *Parser) stepProse(l, t string, piece bool) bool {
	if piece {
		if p.heldDiff != "" {
			p.prose(p.heldDiff, false)
			p.heldDiff = ""
		}
		p.releaseHeld()
		p.prose(l, false)
		return false
	}
	if p.heldDiff != "" {
		held := p.heldDiff
		p.heldDiff = ""
		if strings.HasPrefix(t, "+++ ") {
			p.cont, p.path, p.blockLine = cNone, "", p.lineNo-1
			p.startDiff()
			p.diffLine(held, strings.TrimRight(held, "\r\n"))
			p.diffLine(l, t)
			return false
		}
		p.prose(held, false)
	}
	if p.heldPath != "" {
		if strings.TrimSpace(t) == "" && len(p.held) < 2 {
			p.held = append(p.held, l)
			return false
		}
		if ch, n, info, ok := fenceOpen(t); ok {
			_, ip := fenceInfo(info)
			if ip == "" {
				ip = p.heldPath
			}
			p.held, p.heldPath = p.held[:0], ""
			p.openFence(ch, n, ip, "")
			return false
		}
		if sp, ok := isSearch(t); ok {
			if sp == "" {
				sp = p.heldPath
			}
			p.held, p.heldPath = p.held[:0], ""
			p.cont, p.path = cNone, ""
			p.startSR(sp)
			return false
		}
		if ap, ok := headerPath(t); ok && !strings.HasPrefix(t, "--- ") {
			p.releaseHeld() // a list of paths: the last one may be the header
			p.held, p.heldPath = append(p.held, l), ap
			return false
		}
		p.releaseHeld()
	}
	if attrs, rest, self, ok := openTag(t, "file"); ok {
		p.blockLine = p.lineNo
		fp := tagPath(attrs)
		if fp == "" {
			p.fail("", FormatWhole, p.lineNo, ErrMalformed, "a <file> tag needs a path attribute: <file path=\"src/App.tsx\">")
			p.cont, p.mode, p.skipUntil = cTag, mSkip, nil
			return false
		}
		if self {
			return false
		}
		p.cont, p.mode, p.path, p.purpose = cTag, mSniff, fp, attrs["purpose"]
		p.inner, p.nest = false, 0
		if strings.TrimSpace(rest) != "" {
			p.spanStart = -1
			rest = strings.TrimLeft(rest, " \t")
			if strings.HasSuffix(l, "\n") {
				rest += "\n"
			}
			p.line(rest, true)
		}
		return false
	}
	if attrs, _, _, ok := openTag(t, "delete"); ok {
		if fp := tagPath(attrs); fp != "" {
			p.deleteFile(fp, p.lineNo)
		} else {
			p.fail("", FormatDelete, p.lineNo, ErrMalformed, "a <delete> tag needs a path attribute: <delete path=\"src/Old.tsx\"/>")
		}
		return false
	}
	if ch, n, info, ok := fenceOpen(t); ok {
		lang, fp := fenceInfo(info)
		p.openFence(ch, n, fp, lang)
		if p.mode == mSniffUnnamed {
			p.held = append(p.held, l)
		}
		return false
	}
	if strings.HasPrefix(t, "diff --git ") {
		p.cont, p.path, p.blockLine = cNone, "", p.lineNo
		p.startDiff()
		return true
	}
	if diffOldHeader(t) {
		p.heldDiff = l
		return false
	}
	if sp, ok := isSearch(t); ok {
		p.cont, p.path = cNone, ""
		p.startSR(sp)
		return false
	}
	if hp, ok := headerPath(t); ok {
		p.held, p.heldPath = append(p.held, l), hp
		return false
	}
	p.prose(l, true)
	return false
}

// openFence starts a fenced block; fp is the path it names, if any.
func (p *Parser) openFence(ch byte, n int, fp, lang string) {
	p.cont, p.fenceCh, p.fenceLen, p.nest = cFence, ch, n, 0
	p.blockLine, p.purpose = p.lineNo, ""
	switch {
	case fp != "":
		p.path, p.mode = fp, mSniff
	case lang == "diff" || lang == "patch":
		p.path = ""
		p.startDiff()
	default:
		p.path, p.mode = "", mSniffUnnamed
	}
}

func (p *Parser) stepSniffUnnamed(l, t string) bool {
	if fenceClose(t, p.fenceCh, p.fenceLen) {
		p.releaseHeld()
		p.prose(l, true)
		p.closeContainer()
		return false
	}
	if _, ok := isSearch(t); ok {
		p.held = p.held[:0]
		p.path = ""
		p.startSR("")
		return false
	}
	if strings.HasPrefix(t, "diff --git ") || diffOldHeader(t) || strings.HasPrefix(t, "@@") {
		p.held = p.held[:0]
		p.startDiff()
		return true
	}
	if cp, ok := commentPath(t); ok {
		p.held = p.held[:0]
		p.path, p.mode = cp, mSniff
		return false
	}
	p.releaseHeld()
	p.mode = mFenceProse
	return true
}

func (p *Parser) stepSniff(l, t string) bool {
	if p.cont == cFence && fenceClose(t, p.fenceCh, p.fenceLen) || p.cont == cTag && fileClose(t) {
		if p.startWhole() {
			p.finishWhole()
		}
		p.closeContainer()
		return false
	}
	if p.cont == cTag && !p.inner {
		if ch, n, _, ok := fenceOpen(t); ok {
			p.inner, p.innerCh, p.innerLen = true, ch, n
			return false
		}
	}
	if sp, ok := isSearch(t); ok {
		if sp == "" {
			sp = p.path
		}
		p.startSR(sp)
		return false
	}
	if diffOldHeader(t) {
		p.heldDiff, p.mode = l, mSniffDiffHdr
		return false
	}
	if strings.HasPrefix(t, "diff --git ") || strings.HasPrefix(t, "@@") {
		p.startDiff()
		return true
	}
	if p.startWhole() {
		return true
	}
	return p.mode != mSkip
}

// startWhole validates the block's path and emits FileStarted. On failure
// the block is skipped.
func (p *Parser) startWhole() bool {
	if !p.checkTarget(p.path, FormatWhole, p.blockLine) {
		p.mode = mSkip
		return false
	}
	p.mode = mWhole
	p.buf = p.buf[:0]
	p.emit(Event{Kind: FileStarted, Path: p.path, Purpose: p.purpose, Format: FormatWhole, Line: p.blockLine})
	return true
}

func (p *Parser) wholeContent(l string, fromLine bool) {
	if len(p.buf)+len(l) > p.opts.MaxFileBytes {
		p.fail(p.path, FormatWhole, p.blockLine, ErrTooLarge, "the file is larger than %d KiB; split it into smaller modules", p.opts.MaxFileBytes>>10)
		p.mode = mSkip
		return
	}
	p.buf = append(p.buf, l...)
	p.emitData(FileChunk, p.path, l, fromLine)
}

func (p *Parser) finishWhole() {
	c := string(p.buf)
	p.overlay[p.path] = c
	delete(p.gone, p.path)
	p.touch(p.path)
	p.emit(Event{Kind: FileDone, Path: p.path})
}

func (p *Parser) stepWhole(l, t string) bool {
	if p.cont == cTag {
		if p.heldCloser != "" {
			held := p.heldCloser
			p.heldCloser = ""
			if fileClose(t) {
				p.finishWhole()
				p.closeContainer()
				return false
			}
			if _, _, _, ok := openTag(t, "file"); ok {
				p.finishWhole()
				p.closeContainer()
				return true
			}
			sp := p.spanStart
			p.spanStart = -1
			p.wholeContent(held, false)
			p.spanStart = sp
			if p.mode != mWhole {
				return false
			}
		}
		if p.inner && fenceClose(t, p.innerCh, p.innerLen) {
			p.heldCloser = l
			return false
		}
		if fileClose(t) {
			p.finishWhole()
			p.closeContainer()
			return false
		}
		if before, ok := fileCloseSuffix(t); ok {
			if strings.TrimSpace(before) != "" {
				p.spanStart = -1
				p.wholeContent(before+"\n", false)
			}
			if p.mode == mWhole {
				p.finishWhole()
			}
			p.closeContainer()
			return false
		}
		if _, _, _, ok := openTag(t, "file"); ok {
			p.finishWhole() // a missing </file>: the next file begins
			p.closeContainer()
			return true
		}
		p.wholeContent(l, true)
		return false
	}
	// cFence
	if fenceClose(t, p.fenceCh, p.fenceLen) {
		if p.nest == 0 {
			p.finishWhole()
			p.closeContainer()
			return false
		}
		p.nest--
	} else if ch, n, info, ok := fenceOpen(t); ok && info != "" && ch == p.fenceCh && n >= p.fenceLen {
		// Only a fence that could also close this one nests (models use
		// ``` for a markdown file's inner blocks too).
		if _, fp := fenceInfo(info); fp != "" && p.nest == 0 {
			p.finishWhole() // a missing closing fence: the next file begins
			p.closeContainer()
			return true
		}
		p.nest++
	}
	p.wholeContent(l, true)
	return false
}

// finish handles the end of the answer.
func (p *Parser) finish() {
	if p.heldDiff != "" && p.mode == mProse {
		p.prose(p.heldDiff, false)
		p.heldDiff = ""
	}
	switch p.mode {
	case mProse, mSniffUnnamed:
		p.releaseHeld()
	case mSniff, mSniffDiffHdr:
		p.fail(p.path, FormatWhole, p.blockLine, ErrUnterminated, "the answer ended before the file's content; send the whole file again")
	case mWhole:
		if p.cont == cTag && p.heldCloser != "" {
			p.finishWhole() // the inner fence closed; only </file> is missing
			break
		}
		end := "the closing ```"
		if p.cont == cTag {
			end = "</file>"
		}
		p.fail(p.path, FormatWhole, p.blockLine, ErrUnterminated, "the answer ended inside the file (no %s), so it may be cut off; it was not written. Send the whole file again", end)
	case mDiff:
		p.flushDiffHeld()
		if p.cont == cNone {
			blanks := p.dfBlanks
			p.finishDiffFile()
			for range blanks {
				p.prose("\n", false)
			}
			break
		}
		p.fail(p.diffTarget(p.df), FormatDiff, p.blockLine, ErrUnterminated, "the answer ended inside the diff, so it may be cut off; it was not applied")
	case mSearch, mReplace:
		p.fail(p.srPath, FormatSearchReplace, p.srLine, ErrUnterminated, "the answer ended inside a SEARCH/REPLACE block; it was not applied")
		p.flushSR()
	case mSRBetween:
		p.flushSR()
	}
	p.closeContainer()
}
