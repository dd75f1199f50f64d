async function run(step) {
  await click($$("button").find((b) => text(b).startsWith("Add ")));
  const form = $("form");
  type(input("Title"), "Crash on save");
  form.requestSubmit();
  await sleep(50);
  const column = (label) => $(`section[aria-label="${label}"]`);
  const columns = $$("section.column").map((s) => s.getAttribute("aria-label"));
  check(columns.length >= 2, "columns " + columns);
  await waitFor("the card in the first column", () => text(column(columns[0])).includes("Crash on save"));
  step("added a card to " + columns[0]);
  await click("Move Crash on save to " + columns[1]);
  check(text(column(columns[1])).includes("Crash on save") && !text(column(columns[0])).includes("Crash on save"), "card did not move");
  step("moved it to " + columns[1]);
}
