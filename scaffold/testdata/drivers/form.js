async function run(step) {
  const form = $("form");
  form.requestSubmit();
  await sleep(50);
  check($$(".field-error").length > 0, "an empty form was accepted");
  step("empty form refused");
  type(input("Name"), "Ada Lovelace");
  type(input("Email"), "not an email");
  form.requestSubmit();
  await sleep(50);
  check($$(".field-error").some((e) => /email/i.test(text(e))), "a bad email was accepted");
  type(input("Email"), "ada@example.com");
  form.requestSubmit();
  await waitFor("the confirmation", () => $("[role=status]"));
  await waitFor("the entry in the list", () => document.body.textContent.includes("Ada Lovelace"));
  step("valid submission confirmed and listed");
}
