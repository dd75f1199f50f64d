// Loaded after the app (a module script runs after the app's module). Each
// driver defines run(); the outcome lands in <body data-driver="...">,
// which the Go test reads from Chromium's dumped DOM.
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const $ = (s) => document.querySelector(s);
const $$ = (s) => [...document.querySelectorAll(s)];
const text = (el) => (el ? el.textContent.trim() : "");
async function waitFor(what, fn, ms = 4000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error("timed out waiting for " + what);
    await sleep(25);
  }
}
function check(cond, msg) {
  if (!cond) throw new Error(msg);
}
function button(label) {
  const b = $$("button").find((e) => text(e) === label || e.getAttribute("aria-label") === label);
  check(b, "no button " + JSON.stringify(label));
  return b;
}
async function click(label) {
  const b = typeof label === "string" ? button(label) : label;
  b.click();
  await sleep(30);
}
function type(el, value) {
  check(el, "no input to type into");
  const proto = el.tagName === "SELECT" ? HTMLSelectElement.prototype : el.tagName === "TEXTAREA" ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
  Object.getOwnPropertyDescriptor(proto, "value").set.call(el, value);
  el.dispatchEvent(new Event(el.tagName === "SELECT" ? "change" : "input", { bubbles: true }));
}
window.addEventListener("error", (e) => document.body.setAttribute("data-app-error", String(e.message)));
(async () => {
  try {
    await waitFor("the app to render", () => $("#root") && $("#root").children.length > 0);
    const steps = [];
    await run((s) => steps.push(s));
    document.body.setAttribute("data-driver", "pass: " + steps.join("; "));
  } catch (e) {
    document.body.setAttribute("data-driver", "fail: " + (e && e.message ? e.message : String(e)));
  }
})();
// input finds the input a label points at, by the label's text.
function input(labelText) {
  const label = $$("label").find((l) => text(l).replace(/\s*\*$/, "").startsWith(labelText));
  check(label, "no field labelled " + JSON.stringify(labelText));
  const el = label.htmlFor ? document.getElementById(label.htmlFor) : label.querySelector("input, textarea, select");
  check(el, "label " + JSON.stringify(labelText) + " points at nothing");
  return el;
}
window.confirm = () => true;
