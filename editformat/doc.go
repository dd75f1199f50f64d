// Package editformat owns the reading of a language model's answer: one
// streaming [Parser] that turns text arriving in chunks split at any byte
// into file events (whole files, unified diffs, SEARCH/REPLACE edits,
// deletions) and the prose around them, and an [Adapter] that drives a
// [codegen.Emitter] from those events.
//
// # Conventions (what prompts tell models to write)
//
// The primary conventions, which stich's prompts document, are:
//
//	<file path="src/App.tsx" purpose="Root component">
//	...the whole file...
//	</file>
//
//	```diff
//	--- a/src/App.tsx
//	+++ b/src/App.tsx
//	@@ -3,1 +3,1 @@
//	-const title = "Old";
//	+const title = "New";
//	```
//
//	src/App.tsx
//	<<<<<<< SEARCH
//	const title = "Old";
//	=======
//	const title = "New";
//	>>>>>>> REPLACE
//
//	<delete path="src/Old.tsx"/>
//
// The parser also tolerates what models commonly write instead:
//
//   - a fenced block naming its path in the info string (```tsx
//     path=src/App.tsx, ```tsx:src/App.tsx, ```src/App.tsx, file=/title=
//     keys);
//   - a fence preceded by a line naming the path (// File: src/App.tsx,
//     ### src/App.tsx, **src/App.tsx**, `src/App.tsx`:, src/App.tsx), with
//     at most one blank line in between;
//   - a fence without a path whose first line is a path comment
//     (// src/App.tsx, <!-- index.html -->); that line is dropped;
//   - a fence just inside <file> (```tsx ... ```), which is stripped;
//   - a <file> block whose content is a unified diff or SEARCH/REPLACE
//     blocks, applied to that file;
//   - SEARCH/REPLACE blocks inside a fence (the path on the line before the
//     fence or as the fence's first line), several per fence;
//   - bare unified diffs in prose (a "--- " line followed by "+++ ", or
//     "diff --git"), hunk headers without line numbers, blank lines for
//     empty context lines, wrong hunk counts, "a/" and "b/" prefixes,
//     /dev/null for created and deleted files.
//
// A fence without a path (a shell command, an example) is prose.
//
// # Guarantees
//
//  1. Chunking does not matter: feeding an answer in any split yields the
//     same events, except that the data of consecutive FileChunk (or Prose)
//     events may be divided differently; their concatenation is identical.
//     [Coalesce] normalises a sequence for comparison.
//  2. Whole files stream: FileStarted comes once the block's first content
//     line is known, then FileChunk for every line as it completes. Diffs
//     and SEARCH/REPLACE edits are applied to the current content (the
//     files passed to [NewParser], updated by earlier blocks of the same
//     answer) and emitted as one whole file (FileStarted, FileChunk,
//     FileDone) when the block (or its fence) is complete.
//  3. Every Path in an event passes [codegen.CheckPath]. A block whose path
//     is invalid or [Options.Protected], whose file would exceed
//     [Options.MaxFileBytes], that would touch more than [Options.MaxFiles]
//     files, whose edit does not apply (no match, ambiguous match, missing
//     file) or that is unterminated at [Parser.Close] yields one BlockError
//     event with an [*Error] a user can act on, and its content is
//     discarded. A BlockError for a file that already streamed (it grew too
//     large, or the answer ended inside it) carries that file's Path: the
//     consumer must drop what it received for it. Errors never stop the
//     parser; later blocks are still read.
//  4. Memory is bounded by the limits: a line, a file or a SEARCH or
//     REPLACE part is buffered up to [Options.MaxFileBytes], a diff up to
//     twice that; longer input fails the block. Event data shares memory
//     with the written chunks where it can.
//  5. The parser never panics on any input (FuzzParser).
//
// # Concurrency
//
// A [Parser] and an [Adapter] are used by one goroutine at a time. The
// events returned by [Parser.Write] and [Parser.Close] are valid until the
// next call.
//
// Package editformat may import codegen (for [codegen.CheckPath], the limits
// and the Emitter interface) and the standard library. It must not import
// actors, rpc, cluster, cmd or llm.
package editformat
