async function run(step) {
  await click("New note");
  type($("textarea"), "# Shopping\n\n- **milk** and *eggs*\n- [shop](https://example.com) [bad](javascript:alert(1))\n\n`code`");
  await sleep(50);
  check($$(".note-link").some((b) => text(b) === "Shopping"), "the list does not show the note's title");
  await click("Preview");
  const p = $("[data-testid=preview]");
  check(text(p.querySelector("h2")) === "Shopping", "heading not rendered");
  check(text(p.querySelector("li strong")) === "milk" && text(p.querySelector("li em")) === "eggs", "emphasis not rendered");
  const links = [...p.querySelectorAll("a")];
  check(links.length === 1 && links[0].getAttribute("href") === "https://example.com", "links: " + links.map((a) => a.getAttribute("href")));
  step("markdown preview: heading, list, emphasis, safe links only");
  type($("input[type=search]"), "milk");
  await sleep(50);
  check($$(".note-link").length === 1, "search shows " + $$(".note-link").length);
  step("search finds the note");
}
