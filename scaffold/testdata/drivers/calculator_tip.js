async function run(step) {
  type($("input[name=bill]"), "100");
  type($("input[name=percent]"), "20");
  type($("input[name=people]"), "4");
  await sleep(50);
  const r = text($("[data-testid=result]"));
  check(r.includes("Tip20.00") && r.includes("Total120.00") && r.includes("Each person pays30.00"), "tip result " + r);
  step("100 with 20% tip for 4 = 30.00 each");
  type($("input[name=people]"), "x");
  await sleep(50);
  check(!$("[data-testid=result]") && text($(".field-error")) !== "", "bad input not reported");
  step("rejects bad input");
}
