async function run(step) {
  const display = () => text($("[data-testid=display]"));
  check(display() === "3:00", "first preset shows " + display() + ", want 3:00 (from \"3 minute planks\")");
  check(button("1:30"), "no 90 second preset");
  type($("input[name=minutes]"), "0");
  type($("input[name=seconds]"), "2");
  await click("Set");
  await waitFor("0:02 on the display", () => display() === "0:02");
  await click("Start");
  await waitFor("the countdown to move", () => display() === "0:01");
  step("counts down 0:02 → 0:01");
  await waitFor("time's up", () => text($("[data-testid=status]")) === "Time's up!", 6000);
  check(display() === "0:00", "display " + display() + " at the end");
  step("reaches 0:00 and says Time's up!");
  const finished = $$("section[aria-label=Finished] li");
  check(finished.length === 1, finished.length + " finished countdowns logged");
  step("logs the finished countdown");
}
