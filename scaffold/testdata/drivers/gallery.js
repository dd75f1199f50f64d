async function run(step) {
  const items = () => $$(".gallery-item");
  check(items().length === 6, items().length + " sample pictures");
  type($("input[name=title]"), "Harbour at night");
  type($("input[name=tags]"), "Night, travel");
  await click("Add");
  check(items().length === 7, "adding made " + items().length);
  await click("night");
  check(items().length === 1 && text(items()[0]).includes("Harbour at night"), "tag filter shows " + items().length);
  step("add a picture, filter by its tag");
  await click("All");
  await click("Open Harbour at night");
  check($("[role=dialog]") && text($("figcaption")).includes("Harbour at night"), "lightbox did not open");
  await click("Next");
  check(!text($("figcaption")).includes("Harbour at night"), "next did not move");
  await click("Close");
  check(!$("[role=dialog]"), "lightbox did not close");
  type($("input[name=url]"), "javascript:alert(1)");
  type($("input[name=title]"), "Bad");
  await click("Add");
  check(text($(".field-error")).includes("https://"), "javascript: URL accepted");
  await click("Delete Harbour at night");
  check(items().length === 6, "delete left " + items().length);
  step("lightbox next/close, unsafe URL refused, delete");
}
