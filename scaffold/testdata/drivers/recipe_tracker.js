async function run(step) {
  await click($$("button").find((b) => text(b).startsWith("Add ")));
  const form = $("form");
  check(form, "no form after Add");
  const first = form.querySelector("input[type=text], input:not([type])");
  type(first, "Lentil soup");
  form.requestSubmit();
  await sleep(50);
  await waitFor("the new card", () => $$(".card-title").some((c) => text(c) === "Lentil soup"));
  step("added a recipe");
  type($("input[type=search]"), "nothing matches this");
  await sleep(50);
  check(!$$(".card-title").some((c) => text(c) === "Lentil soup"), "search did not filter");
  type($("input[type=search]"), "lentil");
  await sleep(50);
  check($$(".card-title").some((c) => text(c) === "Lentil soup"), "search did not find");
  step("search filters");
  await click("Delete Lentil soup");
  check(!$$(".card-title").some((c) => text(c) === "Lentil soup"), "delete did not remove");
  step("deleted it");
}
