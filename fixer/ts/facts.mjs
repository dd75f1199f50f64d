// facts.mjs reports syntax facts about an app's TypeScript sources for the
// stich fixer: imports, exports, top-level declarations, how given names
// are used, and what sits at given diagnostic positions. By default it
// only PARSES (ts.createSourceFile from the pinned typescript 5.9 package
// next to it); with "types": true it also builds a program over the sources
// and the app's node_modules to ask the checker about the queried sites
// (see typedSite). It never runs the app's code. stich runs it in the
// sandbox because the sources are untrusted.
//
// Input (JSON file named by $FIXER_IN):
//   { "files": { "src/App.tsx": "<source>", ... }, "types": false,
//     "names": { "src/App.tsx": ["Sidebar", ...] },
//     "queries": [ { "file": "src/App.tsx", "line": 3, "column": 8 }, ... ] }
// Output (JSON file named by $FIXER_OUT): see the Go type fixer.facts.
// Every offset in the output is a UTF-8 byte offset into the file.

import { createRequire } from "node:module";
import { readFileSync, writeFileSync } from "node:fs";

const require = createRequire(import.meta.url);
const ts = require("typescript");

const input = JSON.parse(readFileSync(process.env.FIXER_IN, "utf8"));
const out = { version: 1, typescript: ts.version, files: {}, queries: [] };

// byteOffsets maps UTF-16 string indexes to UTF-8 byte offsets.
function byteOffsets(text) {
  if (/^[\x00-\x7f]*$/.test(text)) return (i) => i;
  const table = new Uint32Array(text.length + 1);
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    table[i] = bytes;
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      // A surrogate pair is 4 bytes; its second half maps into the middle.
      table[i + 1] = bytes;
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  table[text.length] = bytes;
  return (i) => table[Math.max(0, Math.min(i, text.length))];
}

function scriptKind(path) {
  if (path.endsWith(".tsx")) return ts.ScriptKind.TSX;
  if (path.endsWith(".jsx")) return ts.ScriptKind.JSX;
  if (/\.[cm]?js$/.test(path)) return ts.ScriptKind.JS;
  return ts.ScriptKind.TS;
}

function hasModifier(node, kind) {
  return (ts.canHaveModifiers(node) ? ts.getModifiers(node) ?? [] : []).some((m) => m.kind === kind);
}

function bindingNames(name, acc) {
  if (ts.isIdentifier(name)) acc.push(name.text);
  else for (const el of name.elements) if (!ts.isOmittedExpression(el)) bindingNames(el.name, acc);
  return acc;
}

// closeTags finds the closing tags a file's JSX lacks (<p>text without
// </p>). Candidates are the elements whose closing tag the parser found
// missing or another element's; each closes where the indentation says
// its content ends: at the end of its own line when the next line is no
// deeper, else before the first line indented no deeper than its opening
// tag. Insertions are tried one at a time, keeping the one that removes
// the most parse errors, until the file parses; a file that does not
// parse cleanly in the end gets none (the model decides).
function closeTags(sf0, text0) {
  const lineInfo = (text, pos) => {
    const start = text.lastIndexOf("\n", pos - 1) + 1;
    let end = text.indexOf("\n", pos);
    if (end < 0) end = text.length;
    const indent = /^[ \t]*/.exec(text.slice(start, end))[0];
    return { start, end, indent };
  };
  const insertionFor = (sf, text, el) => {
    const open = el.openingElement;
    const tag = open.tagName.getText(sf);
    const at = open.getStart(sf);
    const line = lineInfo(text, at);
    if (line.start + line.indent.length !== at) return null; // not first on its line
    let pos = lineInfo(text, open.end).end; // end of the opening tag's last line
    let deeper = false;
    while (pos < text.length) {
      const next = lineInfo(text, pos + 1);
      const body = text.slice(next.start, next.end);
      if (body.trim() !== "") {
        if (next.indent.length <= line.indent.length) {
          if (body.trim().startsWith("</" + tag + ">")) return null; // closed there already
          if (!deeper) {
            // Nothing deeper: the element's content ends on its last line.
            const end = lineInfo(text, open.end).end;
            let e = end;
            while (e > 0 && (text[e - 1] === " " || text[e - 1] === "\t" || text[e - 1] === "\r")) e--;
            return { at: e, text: "</" + tag + ">", tag };
          }
          return { at: next.start, text: line.indent + "</" + tag + ">\n", tag };
        }
        deeper = true;
      }
      pos = next.end;
    }
    return null;
  };
  const candidates = (sf) => {
    const out = [];
    const walk = (n) => {
      if (ts.isJsxElement(n)) {
        const o = n.openingElement.tagName.getText(sf);
        const c = n.closingElement;
        if (c.end - c.pos <= 2 || c.tagName.getText(sf) !== o) out.push(n);
      }
      ts.forEachChild(n, walk);
    };
    walk(sf);
    return out;
  };
  const parse = (text) => ts.createSourceFile(sf0.fileName, text, ts.ScriptTarget.Latest, true, scriptKind(sf0.fileName));
  let sf = sf0;
  let text = text0;
  let errors = sf.parseDiagnostics.length;
  const done = [];
  for (let round = 0; round < 6 && errors > 0; round++) {
    let best = null;
    for (const el of candidates(sf)) {
      const ins = insertionFor(sf, text, el);
      if (!ins) continue;
      const t = text.slice(0, ins.at) + ins.text + text.slice(ins.at);
      const n = parse(t).parseDiagnostics.length;
      if (n < errors && (!best || n < best.n)) best = { ...ins, n, t };
    }
    if (!best) return [];
    done.push({ at: best.at, text: best.text, tag: best.tag });
    sf = parse(best.t);
    text = best.t;
    errors = best.n;
  }
  if (errors > 0) return [];
  // Offsets back into the original text, in the order they apply.
  const out = [];
  for (let i = 0; i < done.length; i++) {
    let at = done[i].at;
    for (let j = i - 1; j >= 0; j--) {
      if (at >= done[j].at + done[j].text.length) at -= done[j].text.length;
      else if (at > done[j].at) return [];
    }
    if (out.some((o) => o.at === at)) return []; // two at one place: their order is unclear
    out.push({ at, text: done[i].text, tag: done[i].tag });
  }
  return out;
}

const sources = {};
for (const [path, text] of Object.entries(input.files ?? {})) {
  const sf = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true, scriptKind(path));
  sources[path] = sf;
  const b = byteOffsets(text);
  const range = (node) => ({ start: b(node.getStart(sf)), end: b(node.end) });
  const facts = {
    parseErrors: sf.parseDiagnostics.length,
    imports: [],
    exports: [],
    exportStars: [],
    declarations: [],
    importsEnd: 0,
    usage: {},
  };
  // Where new imports and placeholders go: after the last import, else
  // after leading directives ("use client").
  for (const st of sf.statements) {
    if (ts.isImportDeclaration(st) || ts.isImportEqualsDeclaration(st)) facts.importsEnd = b(st.end);
  }
  if (facts.importsEnd === 0) {
    for (const st of sf.statements) {
      if (ts.isExpressionStatement(st) && ts.isStringLiteral(st.expression)) facts.importsEnd = b(st.end);
      else break;
    }
  }
  const localKinds = {};
  for (const st of sf.statements) {
    if (ts.isImportDeclaration(st)) {
      const clause = st.importClause;
      const imp = {
        ...range(st),
        line: sf.getLineAndCharacterOfPosition(st.getStart(sf)).line + 1,
        spec: ts.isStringLiteral(st.moduleSpecifier) ? st.moduleSpecifier.text : "",
        specStart: b(st.moduleSpecifier.getStart(sf)),
        specEnd: b(st.moduleSpecifier.end),
        typeOnly: !!clause?.isTypeOnly,
        default: null,
        namespace: null,
        named: null,
        attributes: st.attributes ? text.slice(st.attributes.getStart(sf), st.attributes.end) : "",
      };
      if (clause?.name) imp.default = { name: clause.name.text, ...range(clause.name) };
      const nb = clause?.namedBindings;
      if (nb && ts.isNamespaceImport(nb)) imp.namespace = { name: nb.name.text, ...range(nb.name) };
      if (nb && ts.isNamedImports(nb)) {
        imp.named = nb.elements.map((e) => ({
          name: (e.propertyName ?? e.name).text,
          alias: e.name.text,
          typeOnly: e.isTypeOnly,
          ...range(e),
        }));
      }
      facts.imports.push(imp);
      continue;
    }
    const exported = hasModifier(st, ts.SyntaxKind.ExportKeyword);
    const isDefault = hasModifier(st, ts.SyntaxKind.DefaultKeyword);
    const declare = (name, kind, typeOnly) => {
      localKinds[name] = { kind, typeOnly };
      let bodyEnd = 0;
      const members = ts.isInterfaceDeclaration(st) ? st : ts.isTypeAliasDeclaration(st) && ts.isTypeLiteralNode(st.type) ? st.type : null;
      if (members) bodyEnd = b(members.end - 1);
      // The property names of an object type, when the declaration lists
      // them all (no extends, no index signature).
      let props = null;
      if (members && !(ts.isInterfaceDeclaration(st) && st.heritageClauses?.length) && !(ts.isTypeAliasDeclaration(st) && st.typeParameters?.length) &&
        members.members.every((m) => (ts.isPropertySignature(m) || ts.isMethodSignature(m)) && ts.isIdentifier(m.name))) {
        props = members.members.map((m) => m.name.text);
      }
      facts.declarations.push({ name, kind, typeOnly, exported, start: b(st.getStart(sf)), end: b(st.end), bodyEnd, members: props });
      if (exported && !isDefault) facts.exports.push({ name, kind, typeOnly });
    };
    if (ts.isFunctionDeclaration(st)) {
      if (st.name) declare(st.name.text, "function", false);
      if (isDefault) facts.exports.push({ name: "default", kind: "function", typeOnly: false, local: st.name?.text ?? "" });
    } else if (ts.isClassDeclaration(st)) {
      if (st.name) declare(st.name.text, "class", false);
      if (isDefault) facts.exports.push({ name: "default", kind: "class", typeOnly: false, local: st.name?.text ?? "" });
    } else if (ts.isVariableStatement(st)) {
      const flags = st.declarationList.flags;
      const kind = flags & ts.NodeFlags.Const ? "const" : flags & ts.NodeFlags.Let ? "let" : "var";
      for (const d of st.declarationList.declarations) for (const n of bindingNames(d.name, [])) declare(n, kind, false);
    } else if (ts.isInterfaceDeclaration(st)) declare(st.name.text, "interface", true);
    else if (ts.isTypeAliasDeclaration(st)) declare(st.name.text, "type", true);
    else if (ts.isEnumDeclaration(st)) declare(st.name.text, "enum", false);
    else if (ts.isModuleDeclaration(st) && ts.isIdentifier(st.name)) declare(st.name.text, "namespace", false);
    else if (ts.isExportAssignment(st)) {
      const local = ts.isIdentifier(st.expression) ? st.expression.text : "";
      facts.exports.push({ name: st.isExportEquals ? "=" : "default", kind: "default", typeOnly: false, local });
    } else if (ts.isExportDeclaration(st)) {
      const from = st.moduleSpecifier && ts.isStringLiteral(st.moduleSpecifier) ? st.moduleSpecifier.text : "";
      if (!st.exportClause) {
        if (from) facts.exportStars.push(from);
      } else if (ts.isNamespaceExport(st.exportClause)) {
        facts.exports.push({ name: st.exportClause.name.text, kind: "reexport", typeOnly: st.isTypeOnly, from });
      } else {
        for (const e of st.exportClause.elements) {
          facts.exports.push({
            name: e.name.text,
            kind: from ? "reexport" : "local",
            typeOnly: st.isTypeOnly || e.isTypeOnly,
            local: (e.propertyName ?? e.name).text,
            from,
          });
        }
      }
    }
  }
  // `export { a }` of a local interface exports a type.
  for (const e of facts.exports) {
    if (e.kind === "local" && localKinds[e.local]?.typeOnly) e.typeOnly = true;
  }

  // useState calls destructured into [value, setter], for typing them
  // from later setter calls; intrinsic JSX elements' void tags left open
  // and HTML attribute names React spells otherwise.
  facts.stateHooks = [];
  facts.voidOpen = [];
  facts.htmlAttrs = [];
  const attrNames = new Set(input.htmlAttrs ?? []);
  const voidTags = new Set(["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"]);
  const walk = (node) => {
    if (ts.isVariableDeclaration(node) && ts.isArrayBindingPattern(node.name) && node.initializer && ts.isCallExpression(node.initializer)) {
      const call = node.initializer;
      const callee = ts.isIdentifier(call.expression) ? call.expression.text : ts.isPropertyAccessExpression(call.expression) ? call.expression.name.text : "";
      const els = node.name.elements;
      if (callee === "useState" && els.length === 2 && !ts.isOmittedExpression(els[1]) && ts.isIdentifier(els[1].name)) {
        const arg = call.arguments[0];
        let init = "none";
        if (arg) init = ts.isArrayLiteralExpression(arg) && arg.elements.length === 0 ? "array" : arg.kind === ts.SyntaxKind.NullKeyword ? "null" : ts.isIdentifier(arg) && arg.text === "undefined" ? "undefined" : "other";
        facts.stateHooks.push({ setter: els[1].name.text, at: b(call.expression.end), typeArgs: !!call.typeArguments, init });
      }
    }
    // A void tag written like HTML (<input ...>) swallows what follows as
    // its children; its closing tag is missing or another element's.
    if (ts.isJsxElement(node) && ts.isIdentifier(node.openingElement.tagName) && voidTags.has(node.openingElement.tagName.text) &&
      !(ts.isIdentifier(node.closingElement.tagName) && node.closingElement.tagName.text === node.openingElement.tagName.text && node.closingElement.end > node.closingElement.pos + 2)) {
      facts.voidOpen.push(b(node.openingElement.end - 1));
    }
    if (ts.isJsxAttribute(node) && ts.isIdentifier(node.name) && attrNames.has(node.name.text)) {
      const tag = node.parent.parent.tagName;
      if (ts.isIdentifier(tag) && /^[a-z]/.test(tag.text)) facts.htmlAttrs.push({ name: node.name.text, start: b(node.name.getStart(sf)), end: b(node.name.end), tag: tag.text });
    }
    ts.forEachChild(node, walk);
  };
  walk(sf);
  facts.unclosed = facts.voidOpen.length === 0 && sf.parseDiagnostics.length > 0 ? closeTags(sf, text).map(({ at, text: t, tag }) => ({ at: b(at), text: t, tag })) : [];

  // Usage of the names the fixer asked about.
  // Files the fixer asks about also get the usage of their own imports.
  const wanted = new Set(input.names?.[path] ?? []);
  if (input.names && path in input.names) {
    for (const im of facts.imports) {
      if (im.default) wanted.add(im.default.name);
      if (im.namespace) wanted.add(im.namespace.name);
      for (const n of im.named ?? []) wanted.add(n.alias);
    }
  }
  if (wanted.size > 0) {
    const usage = facts.usage;
    const get = (n) =>
      (usage[n] ??= { count: 0, jsx: false, props: [], children: false, call: false, args: 0, result: "", new: false, type: false, typeArgs: 0, value: false, members: [] });
    const addUnique = (arr, v) => {
      if (!arr.includes(v) && arr.length < 64) arr.push(v);
    };
    const visit = (node) => {
      if (ts.isIdentifier(node) && wanted.has(node.text)) classify(node, get);
      ts.forEachChild(node, visit);
    };
    const classify = (id, get) => {
      const p = id.parent;
      if (!p) return;
      // Declarations and property names are not uses of the name.
      if (
        (ts.isVariableDeclaration(p) || ts.isFunctionDeclaration(p) || ts.isClassDeclaration(p) || ts.isParameter(p) ||
          ts.isInterfaceDeclaration(p) || ts.isTypeAliasDeclaration(p) || ts.isEnumDeclaration(p) || ts.isEnumMember(p) ||
          ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p) || ts.isMethodDeclaration(p) || ts.isPropertySignature(p) ||
          ts.isMethodSignature(p) || ts.isTypeParameterDeclaration(p) || ts.isBindingElement(p) || ts.isImportSpecifier(p) ||
          ts.isImportClause(p) || ts.isNamespaceImport(p) || ts.isExportSpecifier(p) || ts.isJsxAttribute(p) ||
          ts.isGetAccessorDeclaration(p) || ts.isSetAccessorDeclaration(p) || ts.isFunctionExpression(p) || ts.isClassExpression(p)) &&
        p.name === id
      ) return;
      if ((ts.isBindingElement(p) || ts.isImportSpecifier(p) || ts.isExportSpecifier(p)) && p.propertyName === id) return;
      if (ts.isPropertyAccessExpression(p) && p.name === id) return;
      if (ts.isQualifiedName(p) && p.right === id) return;
      if (ts.isLabeledStatement(p) || ts.isBreakOrContinueStatement(p)) return;
      const u = get(id.text);
      u.count++;
      if ((ts.isJsxOpeningElement(p) || ts.isJsxSelfClosingElement(p)) && p.tagName === id) {
        u.jsx = true;
        for (const a of p.attributes.properties) addUnique(u.props, ts.isJsxAttribute(a) ? a.name.getText(sf) : "...");
        if (ts.isJsxOpeningElement(p) && p.parent.children.length > 0) u.children = true;
        return;
      }
      if (ts.isJsxClosingElement(p)) return;
      if (ts.isCallExpression(p) && p.expression === id) {
        u.call = true;
        u.args = Math.max(u.args, p.arguments.length);
        const d = p.parent;
        if (d && ts.isVariableDeclaration(d) && d.initializer === p) {
          u.result = ts.isArrayBindingPattern(d.name) ? "array" : ts.isObjectBindingPattern(d.name) ? "object" : u.result || "value";
        }
        return;
      }
      if (ts.isNewExpression(p) && p.expression === id) {
        u.new = true;
        return;
      }
      if (ts.isTypeReferenceNode(p) && p.typeName === id) {
        u.type = true;
        u.typeArgs = Math.max(u.typeArgs, p.typeArguments?.length ?? 0);
        return;
      }
      if (ts.isExpressionWithTypeArguments(p) && ts.isHeritageClause(p.parent)) {
        if (p.parent.token === ts.SyntaxKind.ImplementsKeyword || ts.isInterfaceDeclaration(p.parent.parent)) u.type = true;
        else u.new = true;
        return;
      }
      if (ts.isQualifiedName(p) && p.left === id) {
        u.type = true;
        addUnique(u.members, p.right.text);
        return;
      }
      if (ts.isPropertyAccessExpression(p) && p.expression === id) {
        u.value = true;
        addUnique(u.members, p.name.text);
        const tag = p.parent;
        if (tag && (ts.isJsxOpeningElement(tag) || ts.isJsxSelfClosingElement(tag)) && tag.tagName === p) u.jsx = true;
        return;
      }
      u.value = true;
    };
    visit(sf);
  }
  out.files[path] = facts;
}

// What sits at each queried position: the identifier there and, for a
// declaration, its kind and the range that removes it from its list.
function nodeAt(sf, pos) {
  let node = sf;
  for (;;) {
    let next;
    ts.forEachChild(node, (c) => {
      if (!next && c.getStart(sf) <= pos && pos < c.end) next = c;
    });
    if (!next) return node;
    node = next;
  }
}

// siteOf describes, for a diagnostic's code, the code around its
// position that a fix rewrites. Offsets are byte offsets; the Go planner
// checks them and decides.
function siteOf(sf, b, node, pos, code) {
  const text = sf.text;
  const up = (n, pred) => {
    for (let x = n; x; x = x.parent) if (pred(x)) return x;
    return null;
  };
  const exprText = (e) => text.slice(e.getStart(sf), e.end);
  switch (code) {
    case 2554: {
      // useRef() without its now-required argument.
      const call = up(node, (x) => ts.isCallExpression(x) && x.getStart(sf) <= pos);
      if (!call || call.arguments.length !== 0) return null;
      const callee = ts.isIdentifier(call.expression) ? call.expression.text : ts.isPropertyAccessExpression(call.expression) ? call.expression.name.text : "";
      const ta = call.typeArguments;
      return {
        kind: "call0", name: callee, at: b(call.arguments.pos),
        start: ta ? b(ta.pos) : 0, end: ta ? b(ta.end) : 0, text: ta && ta.length === 1 ? exprText(ta[0]) : "",
      };
    }
    case 2345:
    case 2322: {
      // The argument (or property value, or JSX attribute) at pos.
      const arg = up(node, (x) => x.parent && ts.isCallExpression(x.parent) && x.parent.arguments.includes(x));
      if (arg) {
        const call = arg.parent;
        const callee = ts.isIdentifier(call.expression) ? call.expression.text : "";
        const asyncBlock = ts.isArrowFunction(arg) && (ts.getCombinedModifierFlags(arg) & ts.ModifierFlags.Async) !== 0 && ts.isBlock(arg.body) && arg.parameters.length === 0;
        // exprBody: an arrow without braces, whose value is its body's (text2
        // "expr"; at: where the body starts).
        const exprBody = !asyncBlock && ts.isArrowFunction(arg) && !ts.isBlock(arg.body) && arg.parameters.length === 0;
        return { kind: "arg", name: callee, start: b(arg.getStart(sf)), end: b(arg.end), text: exprText(arg), index: call.arguments.indexOf(arg), flag: asyncBlock,
          at: asyncBlock || exprBody ? b(arg.body.getStart(sf)) : 0, text2: exprBody ? "expr" : "" };
      }
      if (ts.isIdentifier(node) && ts.isPropertyAssignment(node.parent) && node.parent.name === node) {
        const v = node.parent.initializer;
        return { kind: "prop", name: node.text, start: b(v.getStart(sf)), end: b(v.end), text: exprText(v) };
      }
      if (ts.isIdentifier(node) && ts.isJsxAttribute(node.parent)) {
        return { kind: "attr", name: node.text, start: b(node.getStart(sf)), end: b(node.end), text: "" };
      }
      return null;
    }
    case 18047:
    case 18048:
    case 2531:
    case 2532: {
      // A possibly-null expression: where "?" makes the access optional.
      const acc = up(node, (x) => (ts.isPropertyAccessExpression(x) || ts.isElementAccessExpression(x)) && x.expression.getStart(sf) === pos);
      if (!acc) return null;
      // The innermost access whose object is the flagged expression: the
      // diagnostic names it; the planner matches the text.
      let target = acc;
      for (let x = acc; x && (ts.isPropertyAccessExpression(x) || ts.isElementAccessExpression(x)) && x.expression.getStart(sf) === pos; x = x.expression) target = x;
      const candidates = [];
      for (let x = target; x && (ts.isPropertyAccessExpression(x) || ts.isElementAccessExpression(x) || ts.isCallExpression(x)) && x.getStart(sf) === pos; x = x.parent) {
        if (ts.isPropertyAccessExpression(x) || ts.isElementAccessExpression(x)) {
          let assigned = false;
          for (let y = x; y.parent; y = y.parent) {
            if (ts.isBinaryExpression(y.parent) && y.parent.left === y && y.parent.operatorToken.kind >= ts.SyntaxKind.FirstAssignment && y.parent.operatorToken.kind <= ts.SyntaxKind.LastAssignment) { assigned = true; break; }
            if (!(ts.isPropertyAccessExpression(y.parent) || ts.isElementAccessExpression(y.parent)) || y.parent.expression !== y) break;
          }
          candidates.push({ object: exprText(x.expression), at: b(x.expression.end), optional: !!x.questionDotToken, assigned });
        }
      }
      return { kind: "nullable", candidates };
    }
    case 2722: {
      // obj.fn(...) where fn is optional: where "?." goes, and whether the
      // call's value is used (flag: a statement of its own).
      const call = up(node, (x) => ts.isCallExpression(x) && x.expression.getStart(sf) === pos);
      if (!call || call.questionDotToken || !(ts.isPropertyAccessExpression(call.expression) || ts.isIdentifier(call.expression))) return null;
      return { kind: "optcall", name: exprText(call.expression), start: b(call.expression.getStart(sf)), end: b(call.expression.end), at: b(call.expression.end),
        flag: !!call.parent && ts.isExpressionStatement(call.parent) };
    }
    case 18046: {
      // x.message where x is a catch clause's variable (unknown under
      // strict): flag when nothing between them rebinds the name.
      if (!ts.isIdentifier(node) || !node.parent || !ts.isPropertyAccessExpression(node.parent) || node.parent.expression !== node) return null;
      let caught = false;
      for (let x = node.parent; x; x = x.parent) {
        if (ts.isCatchClause(x)) {
          const v = x.variableDeclaration;
          if (v && ts.isIdentifier(v.name) && v.name.text === node.text && !v.type) caught = true;
          break;
        }
        if (ts.isFunctionLike(x) && x.parameters.some((p) => p.name.getText(sf) === node.text)) break;
        if (ts.isBlock(x) && x.statements.some((st) => ts.isVariableStatement(st) && st.declarationList.declarations.some((d) => d.name.getText(sf).includes(node.text)))) break;
      }
      const acc = node.parent;
      return { kind: "caught", name: node.text, text: acc.name.text, start: b(acc.getStart(sf)), end: b(acc.end), flag: caught };
    }
    case 7031: {
      // A destructured parameter without a type: the pattern's names, and
      // whether its function is a component (capitalised name).
      const pattern = up(node, (x) => ts.isObjectBindingPattern(x) && x.parent && ts.isParameter(x.parent));
      if (!pattern) return null;
      const param = pattern.parent;
      const fn = param.parent;
      let fnName = "";
      if (ts.isFunctionDeclaration(fn) && fn.name) fnName = fn.name.text;
      else if (fn.parent && ts.isVariableDeclaration(fn.parent) && ts.isIdentifier(fn.parent.name)) fnName = fn.parent.name.text;
      const names = pattern.elements.map((el) => (!el.propertyName && !el.dotDotDotToken && !el.initializer && ts.isIdentifier(el.name) ? el.name.text : "?"));
      return { kind: "pattern", name: fnName, start: b(pattern.getStart(sf)), end: b(pattern.end), at: b(param.end), index: fn.parameters.indexOf(param),
        bindings: names.filter((n) => n !== "?").slice(0, 64), count: names.length, typed: !!param.type };
    }
    case 7006: {
      // An untyped parameter: how its function is used as a JSX handler.
      const param = up(node, (x) => ts.isParameter(x));
      if (!param || !ts.isIdentifier(param.name)) return null;
      const fn = param.parent;
      const parens = !(ts.isArrowFunction(fn) && fn.parameters.length === 1 && text[fn.parameters[0].getStart(sf) - 1] !== "(" && !text.slice(fn.getStart(sf), param.getStart(sf)).includes("("));
      let fnName = "";
      if (fn.parent && ts.isVariableDeclaration(fn.parent) && ts.isIdentifier(fn.parent.name)) fnName = fn.parent.name.text;
      if (ts.isFunctionDeclaration(fn) && fn.name) fnName = fn.name.text;
      // A class property (handle = (e) => ...): used as this.handle.
      const member = fn.parent && ts.isPropertyDeclaration(fn.parent) && fn.parent.initializer === fn && ts.isIdentifier(fn.parent.name) && ts.isClassLike(fn.parent.parent);
      if (member) fnName = fn.parent.name.text;
      const isRef = (e) => member ? (ts.isPropertyAccessExpression(e) && e.expression.kind === ts.SyntaxKind.ThisKeyword && e.name.text === fnName) : (ts.isIdentifier(e) && e.text === fnName);
      const uses = [];
      if (member) {
        const visit = (n) => {
          if (ts.isJsxAttribute(n) && n.initializer && ts.isJsxExpression(n.initializer) && n.initializer.expression && isRef(n.initializer.expression)) {
            const tag = n.parent.parent.tagName;
            uses.push((ts.isIdentifier(n.name) ? n.name.text : "") + ":" + (ts.isIdentifier(tag) ? tag.text : "?"));
          } else if (ts.isPropertyAccessExpression(n) && n.name.text === fnName && !(n.parent && ts.isJsxExpression(n.parent) && ts.isJsxAttribute(n.parent.parent) && isRef(n))) {
            uses.push("other"); // called, passed on, or read through another object
          }
          ts.forEachChild(n, visit);
        };
        visit(fn.parent.parent);
      } else if (fnName) {
        const visit = (n) => {
          if (ts.isJsxAttribute(n) && n.initializer && ts.isJsxExpression(n.initializer) && n.initializer.expression && isRef(n.initializer.expression)) {
            const tag = n.parent.parent.tagName;
            uses.push((ts.isIdentifier(n.name) ? n.name.text : "") + ":" + (ts.isIdentifier(tag) ? tag.text : "?"));
          } else if (ts.isIdentifier(n) && n.text === fnName && n.parent && !(ts.isVariableDeclaration(n.parent) && n.parent.name === n) && !(ts.isFunctionDeclaration(n.parent) && n.parent.name === n) && !(ts.isJsxExpression(n.parent) && ts.isJsxAttribute(n.parent.parent)) &&
            !((ts.isJsxAttribute(n.parent) || ts.isPropertyAssignment(n.parent) || ts.isPropertyAccessExpression(n.parent) || ts.isPropertySignature(n.parent)) && n.parent.name === n)) {
            uses.push("other");
          }
          ts.forEachChild(n, visit);
        };
        visit(sf);
      }
      // named: a helper the checker can find the call sites of.
      const named = !!fnName && !member && !param.dotDotDotToken && !param.initializer && !param.type;
      // method: a method of a class that extends another, which may declare
      // the parameter's type (componentDidCatch(error, info)).
      const method = ts.isMethodDeclaration(fn) && !!fn.name && ts.isIdentifier(fn.name) && ts.isClassLike(fn.parent) &&
        !!fn.parent.heritageClauses?.some((h) => h.token === ts.SyntaxKind.ExtendsKeyword) && !param.dotDotDotToken && !param.initializer && !param.type;
      return { kind: "param", name: param.name.text, start: b(param.getStart(sf)), end: b(param.end), index: fn.parameters.indexOf(param), count: fn.parameters.length, parens, uses, typed: !!param.type, named, method };
    }
    case 6133:
    case 6196: {
      // What deleting an unused declaration removes.
      const decl = ts.isIdentifier(node) ? node.parent : null;
      if (!decl) return null;
      if (ts.isParameter(decl)) {
        const fn = decl.parent;
        const i = fn.parameters.indexOf(decl);
        const callback = (ts.isArrowFunction(fn) || ts.isFunctionExpression(fn)) && fn.parent && (ts.isCallExpression(fn.parent) || ts.isJsxExpression(fn.parent));
        const start = i > 0 ? b(fn.parameters[i - 1].end) : b(decl.getStart(sf));
        return { kind: "param", name: decl.name.getText(sf), index: i, count: fn.parameters.length, callback, start, end: b(decl.end), at: b(fn.getStart(sf)) };
      }
      const stmt = up(decl, (x) => x.parent && (ts.isSourceFile(x.parent) || ts.isBlock(x.parent) || ts.isModuleBlock(x.parent)));
      if (!stmt) return null;
      let pure = false;
      const isPure = (e) => !e || ts.isLiteralExpression(e) || ts.isNoSubstitutionTemplateLiteral(e) || ts.isIdentifier(e) || ts.isArrowFunction(e) || ts.isFunctionExpression(e) ||
        e.kind === ts.SyntaxKind.TrueKeyword || e.kind === ts.SyntaxKind.FalseKeyword || e.kind === ts.SyntaxKind.NullKeyword ||
        (ts.isPrefixUnaryExpression(e) && isPure(e.operand)) ||
        (ts.isArrayLiteralExpression(e) && e.elements.every(isPure)) ||
        (ts.isObjectLiteralExpression(e) && e.properties.every((p) => ts.isPropertyAssignment(p) && !ts.isComputedPropertyName(p.name) && isPure(p.initializer))) ||
        (ts.isAsExpression(e) && isPure(e.expression)) || (ts.isParenthesizedExpression(e) && isPure(e.expression));
      if (ts.isVariableDeclaration(decl) && ts.isVariableStatement(stmt) && stmt.declarationList.declarations.length === 1 && ts.isIdentifier(decl.name)) pure = isPure(decl.initializer);
      if ((ts.isFunctionDeclaration(decl) || ts.isInterfaceDeclaration(decl) || ts.isTypeAliasDeclaration(decl)) && stmt === decl) pure = true;
      // The statement with its line: from the start of its first line
      // (leading comments included) to the end of its last.
      let start = stmt.getFullStart();
      const lead = text.slice(start, stmt.getStart(sf));
      const nl = lead.indexOf("\n");
      start = nl >= 0 ? start + nl + 1 : start;
      let end = stmt.end;
      if (text[end] === "\r") end++;
      if (text[end] === "\n") end++;
      return { kind: "stmt", name: decl.name ? decl.name.getText(sf) : "", pure, start: b(start), end: b(end) };
    }
    case 7053: {
      // X[k] where k is the parameter of a callback over Object.keys(X).
      const acc = up(node, (x) => ts.isElementAccessExpression(x));
      if (!acc || !ts.isIdentifier(acc.argumentExpression)) return null;
      const k = acc.argumentExpression.text;
      for (let x = acc.parent; x; x = x.parent) {
        if ((ts.isArrowFunction(x) || ts.isFunctionExpression(x)) && x.parameters.some((p) => ts.isIdentifier(p.name) && p.name.text === k)) {
          const call = x.parent;
          if (!call || !ts.isCallExpression(call) || !ts.isPropertyAccessExpression(call.expression)) return null;
          const keys = call.expression.expression;
          if (ts.isCallExpression(keys) && ts.isPropertyAccessExpression(keys.expression) && ts.isIdentifier(keys.expression.expression) &&
            keys.expression.expression.text === "Object" && keys.expression.name.text === "keys" && keys.arguments.length === 1 && ts.isIdentifier(keys.arguments[0])) {
            return { kind: "keys", name: keys.arguments[0].text, start: b(keys.getStart(sf)), end: b(keys.end), text: exprText(keys) };
          }
          return null;
        }
      }
      return null;
    }
    case 2304:
    case 2580:
    case 2591: {
      // Node globals in browser code: process.env.X, require("m").
      if (!ts.isIdentifier(node)) return null;
      const p = node.parent;
      if (node.text === "process" && p && ts.isPropertyAccessExpression(p) && p.expression === node && p.name.text === "env") {
        const acc = p.parent;
        let key = "";
        if (acc && ts.isPropertyAccessExpression(acc) && acc.expression === p) key = acc.name.text;
        else if (acc && ts.isElementAccessExpression(acc) && acc.expression === p && ts.isStringLiteral(acc.argumentExpression)) key = acc.argumentExpression.text;
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) return { kind: "global", name: "process" };
        const assigned = acc.parent && ts.isBinaryExpression(acc.parent) && acc.parent.left === acc && acc.parent.operatorToken.kind === ts.SyntaxKind.EqualsToken;
        return { kind: "env", name: key, start: b(node.getStart(sf)), end: b(acc.end), text: exprText(acc), flag: !!assigned };
      }
      if (node.text === "require" && p && ts.isCallExpression(p) && p.expression === node && p.arguments.length === 1 && ts.isStringLiteral(p.arguments[0])) {
        const spec = p.arguments[0].text;
        const stmt = p.parent && ts.isVariableDeclaration(p.parent) && p.parent.initializer === p ? p.parent.parent?.parent : p.parent;
        const top = stmt && stmt.parent && ts.isSourceFile(stmt.parent);
        const site = { kind: "require", text: spec, start: b(stmt ? stmt.getStart(sf) : 0), end: b(stmt ? stmt.end : 0), name: "", bindings: [], flag: !!top };
        if (!top) return site;
        if (ts.isExpressionStatement(stmt) && stmt.expression === p) {
          site.name = "*side-effect";
          return site;
        }
        if (!ts.isVariableStatement(stmt) || stmt.declarationList.declarations.length !== 1) return { ...site, flag: false };
        const decl = p.parent;
        if (ts.isIdentifier(decl.name)) site.name = decl.name.text;
        else if (ts.isObjectBindingPattern(decl.name)) {
          for (const el of decl.name.elements) {
            if (el.dotDotDotToken || el.initializer || !ts.isIdentifier(el.name) || (el.propertyName && !ts.isIdentifier(el.propertyName))) return { ...site, flag: false };
            site.bindings.push(el.propertyName ? el.propertyName.text + ":" + el.name.text : el.name.text);
          }
        } else return { ...site, flag: false };
        return site;
      }
      return { kind: "global", name: node.text };
    }
    case 2559: {
      const attr = up(node, (x) => ts.isJsxAttribute(x));
      if (!attr || !ts.isIdentifier(attr.name) || attr.name.text !== "style" || !attr.initializer) return null;
      let v = attr.initializer;
      if (ts.isJsxExpression(v)) v = v.expression;
      if (!v || !(ts.isStringLiteral(v) || ts.isNoSubstitutionTemplateLiteral(v) || ts.isTemplateExpression(v))) return null;
      return { kind: "style", start: b(attr.initializer.getStart(sf)), end: b(attr.initializer.end), text: exprText(attr.initializer), flag: !ts.isStringLiteral(v) };
    }
    case 2339: {
      // X.render(...) on react-dom; or a props type lacking children.
      const acc = ts.isIdentifier(node) && node.parent && ts.isPropertyAccessExpression(node.parent) && node.parent.name === node ? node.parent : null;
      if (acc && node.text === "render" && acc.parent && ts.isCallExpression(acc.parent) && acc.parent.expression === acc && acc.parent.arguments.length === 2) {
        const call = acc.parent;
        const [el, root] = call.arguments;
        const rootIsLookup = ts.isCallExpression(root) && ts.isPropertyAccessExpression(root.expression) && ["getElementById", "querySelector"].includes(root.expression.name.text);
        return { kind: "render", name: exprText(acc.expression), start: b(call.getStart(sf)), end: b(call.end), text: exprText(el), text2: exprText(root), flag: rootIsLookup };
      }
      return null;
    }
  }
  return null;
}

// The type checker, built only when a query needs types (a helper's
// parameter typed from its call sites, a property name matched against
// its object's type). It reads the sources sent, the app's tsconfig.json
// and its node_modules from the working directory, the app's root; it
// type-checks, it never runs the app's code.
let program;
function checker() {
  if (program !== undefined) return program && program.getTypeChecker();
  program = null;
  const cwd = process.cwd();
  const abs = (p) => cwd + "/" + p;
  const mem = new Map(Object.entries(input.files ?? {}).map(([p, t]) => [abs(p), t]));
  let options = {
    target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler, jsx: ts.JsxEmit.ReactJSX,
    strict: true, skipLibCheck: true, noEmit: true, lib: ["lib.es2022.d.ts", "lib.dom.d.ts", "lib.dom.iterable.d.ts"],
  };
  let roots = [...mem.keys()].filter((f) => /\.(tsx?|d\.ts)$/.test(f));
  for (const name of ["tsconfig.app.json", "tsconfig.json"]) {
    const path = abs(name);
    if (!ts.sys.fileExists(path)) continue;
    const cfg = ts.readConfigFile(path, ts.sys.readFile);
    if (cfg.error) continue;
    const parsed = ts.parseJsonConfigFileContent(cfg.config, ts.sys, cwd, undefined, path);
    if (parsed.fileNames.length === 0) continue; // a solution file: its references hold the options
    options = { ...parsed.options, noEmit: true };
    roots = [...new Set([...parsed.fileNames, ...roots])];
    break;
  }
  const host = ts.createCompilerHost(options, true);
  const getSourceFile = host.getSourceFile;
  host.getSourceFile = (f, lang, onError, create) =>
    mem.has(f) ? ts.createSourceFile(f, mem.get(f), lang, true, scriptKind(f)) : getSourceFile.call(host, f, lang, onError, create);
  host.fileExists = (f) => mem.has(f) || ts.sys.fileExists(f);
  host.readFile = (f) => mem.get(f) ?? ts.sys.readFile(f);
  program = ts.createProgram(roots, options, host);
  return program.getTypeChecker();
}

// typeText is how a type is written at decl, or "" when it cannot be
// written there (anonymous, any, or naming what decl's file does not see).
function typeText(c, t, decl) {
  if (t.flags & (ts.TypeFlags.StringLiteral | ts.TypeFlags.NumberLiteral | ts.TypeFlags.BigIntLiteral | ts.TypeFlags.BooleanLiteral) && !t.aliasSymbol) {
    t = c.getBaseTypeOfLiteralType(t);
  }
  if (t.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown | ts.TypeFlags.Never)) return "";
  const s = c.typeToString(t, decl, ts.TypeFormatFlags.NoTruncation);
  if (/[{}()"'`=]|\bimport\b|\bany\b|\btypeof\b/.test(s) || s.length > 120) return "";
  const inScope = new Set(c.getSymbolsInScope(decl, ts.SymbolFlags.Type | ts.SymbolFlags.Namespace | ts.SymbolFlags.Alias).map((x) => x.name));
  for (const word of s.match(/[A-Za-z_$][A-Za-z0-9_$]*/g) ?? []) {
    if (["string", "number", "boolean", "bigint", "symbol", "null", "undefined", "void", "object", "true", "false", "readonly"].includes(word)) continue;
    if (!inScope.has(word)) return "";
  }
  return s;
}

// typedSite adds what the checker knows to a query's site: the types its
// call sites pass to an untyped helper parameter (TS7006), the property
// names of the object a missing property is read from (TS2339).
function typedSite(q, pos, site) {
  if (!((q.code === 7006 && site.kind === "param" && (site.named || site.method)) || (q.code === 2339 && site.kind === "member"))) return;
  const c = checker();
  if (!c) return;
  const sf = program.getSourceFile(process.cwd() + "/" + q.file);
  if (!sf) return;
  const node = nodeAt(sf, pos);
  const up = (n, pred) => {
    for (let x = n; x; x = x.parent) if (pred(x)) return x;
    return null;
  };
  if (q.code === 7006) {
    const param = up(node, (x) => ts.isParameter(x));
    if (!param || !ts.isIdentifier(param.name) || param.dotDotDotToken || param.initializer) return;
    const fn = param.parent;
    if (site.method) {
      // The base class's member of the same name: its parameter's type.
      const clsSym = fn.parent.name && c.getSymbolAtLocation(fn.parent.name);
      if (!clsSym) return;
      const cls = c.getDeclaredTypeOfSymbol(clsSym);
      const index = fn.parameters.indexOf(param);
      const found = [];
      for (const base of c.getBaseTypes(cls) ?? []) {
        const prop = c.getPropertyOfType(base, fn.name.text);
        if (!prop) continue;
        const sigs = c.getNonNullableType(c.getTypeOfSymbolAtLocation(prop, fn)).getCallSignatures();
        if (sigs.length !== 1 || index >= sigs[0].parameters.length) continue;
        found.push(typeText(c, c.getTypeOfSymbolAtLocation(sigs[0].parameters[index], fn), fn));
      }
      if (found.length === 1) site.baseType = found[0];
      return;
    }
    let nameNode = null;
    if (ts.isFunctionDeclaration(fn) && fn.name) nameNode = fn.name;
    else if ((ts.isArrowFunction(fn) || ts.isFunctionExpression(fn)) && fn.parent && ts.isVariableDeclaration(fn.parent) && fn.parent.initializer === fn && ts.isIdentifier(fn.parent.name)) {
      nameNode = fn.parent.name;
    }
    if (!nameNode) return;
    const sym = c.getSymbolAtLocation(nameNode);
    if (!sym) return;
    const index = fn.parameters.indexOf(param);
    const types = [];
    for (const file of program.getSourceFiles()) {
      if (file.isDeclarationFile || file.fileName.includes("/node_modules/")) continue;
      const visit = (n) => {
        if (ts.isIdentifier(n) && n.text === nameNode.text && n !== nameNode) {
          let s = c.getSymbolAtLocation(n);
          const p = n.parent;
          if (s && s.flags & ts.SymbolFlags.Alias && !(ts.isImportSpecifier(p) || ts.isImportClause(p) || ts.isExportSpecifier(p))) s = c.getAliasedSymbol(s);
          if (s === sym) {
            if (ts.isCallExpression(p) && p.expression === n) {
              const arg = p.arguments[index];
              if (!arg || ts.isSpreadElement(arg) || p.arguments.some((a) => ts.isSpreadElement(a))) types.push("");
              else types.push(typeText(c, c.getTypeAtLocation(arg), fn));
            } else {
              types.push(""); // passed on as a value: other callers may exist
            }
          }
        }
        ts.forEachChild(n, visit);
      };
      visit(file);
    }
    site.callTypes = types.slice(0, 64);
    site.helper = true;
    return;
  }
  // TS2339: obj.name where obj's type lacks name.
  if (!ts.isIdentifier(node) || !node.parent || !ts.isPropertyAccessExpression(node.parent) || node.parent.name !== node) return;
  const t = c.getNonNullableType(c.getTypeAtLocation(node.parent.expression));
  if (t.isUnion() || t.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) return;
  const props = c.getPropertiesOfType(t).map((x) => x.name).filter((n) => /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(n));
  if (props.length === 0 || props.length > 80) return;
  site.members = props;
}

for (const q of input.queries ?? []) {
  const sf = sources[q.file];
  const res = { code: q.code ?? 0, file: q.file, line: q.line, column: q.column, name: "", start: 0, end: 0, role: "", declKind: "", removeStart: 0, removeEnd: 0 };
  out.queries.push(res);
  if (!sf) continue;
  const text = sf.text;
  const b = byteOffsets(text);
  let pos;
  try {
    pos = sf.getPositionOfLineAndCharacter(q.line - 1, q.column - 1);
  } catch {
    continue;
  }
  const node = nodeAt(sf, pos);
  res.site = siteOf(sf, b, node, pos, q.code ?? 0);
  if (!res.site && q.code === 2339 && ts.isIdentifier(node) && node.parent && ts.isPropertyAccessExpression(node.parent) && node.parent.name === node) {
    res.site = { kind: "member", name: node.text, start: b(node.getStart(sf)), end: b(node.end) };
  }
  if (res.site && input.types) {
    try {
      typedSite(q, pos, res.site);
    } catch {
      // No types: the site stays as the parser saw it.
    }
  }
  if (!ts.isIdentifier(node)) continue;
  res.name = node.text;
  res.start = b(node.getStart(sf));
  res.end = b(node.end);
  const p = node.parent;
  const listRemoval = (el, list) => {
    const i = list.indexOf(el);
    if (i < 0) return;
    if (i + 1 < list.length) {
      res.removeStart = b(el.getStart(sf));
      res.removeEnd = b(list[i + 1].getStart(sf));
    } else if (i > 0) {
      res.removeStart = b(list[i - 1].end);
      res.removeEnd = b(el.end);
    } else {
      res.removeStart = b(el.getStart(sf));
      res.removeEnd = b(el.end);
    }
  };
  if (ts.isPropertyAccessExpression(p) && p.name === node) res.role = "property";
  else if (ts.isParameter(p) && p.name === node) {
    res.role = "declaration";
    res.declKind = "parameter";
  } else if (ts.isBindingElement(p) && p.name === node) {
    res.role = "declaration";
    if (ts.isArrayBindingPattern(p.parent)) {
      res.declKind = "array-element";
      // The last element goes with the comma before it ([a, b] → [a]);
      // any other leaves a hole ([a, b, c] → [a, , c]).
      const els = p.parent.elements;
      const i = els.indexOf(p);
      if (i === els.length - 1 && i > 0 && !p.initializer && !p.dotDotDotToken) {
        res.removeStart = b(els[i - 1].end);
        res.removeEnd = b(p.end);
      }
    } else {
      res.declKind = p.propertyName || p.initializer || p.dotDotDotToken ? "object-element-complex" : "object-element";
      if (p.parent.elements.length > 1) listRemoval(p, p.parent.elements);
      else res.declKind = "object-element-only";
    }
  } else if (ts.isVariableDeclaration(p) && p.name === node) {
    res.role = "declaration";
    res.declKind = "variable";
  } else if ((ts.isFunctionDeclaration(p) || ts.isClassDeclaration(p) || ts.isInterfaceDeclaration(p) || ts.isTypeAliasDeclaration(p)) && p.name === node) {
    res.role = "declaration";
    res.declKind = ts.SyntaxKind[p.kind];
  } else if (ts.isImportSpecifier(p) || ts.isImportClause(p) || ts.isNamespaceImport(p)) {
    res.role = "import";
  } else res.role = "reference";
}

writeFileSync(process.env.FIXER_OUT, JSON.stringify(out));
