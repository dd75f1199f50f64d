async function run(step) {
  const result = () => text($("[data-testid=result]"));
  for (const k of ["1", "2", "+", "3", "×", "4", "="]) await click(k);
  check(result() === "24", "12+3×4 = " + result() + ", want 24");
  step("12+3×4 = 24");
  await click("Clear");
  for (const k of ["0", ".", "1", "+", "0", ".", "2", "="]) await click(k);
  check(result() === "0.3", "0.1+0.2 = " + result());
  step("0.1+0.2 = 0.3");
  await click("Clear");
  for (const k of ["7", "÷", "0", "="]) await click(k);
  check(result() === "Cannot divide by zero", "7÷0 shows " + result());
  step("7÷0 is an error");
  check($$("section[aria-label=History] li").length === 2, "history holds " + $$("section[aria-label=History] li").length);
}
