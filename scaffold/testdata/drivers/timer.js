async function run(step) {
  check(text($("[data-testid=display]")) === "25:00", "pomodoro starts at " + text($("[data-testid=display]")));
  for (const p of ["25 minutes", "5 minutes", "15 minutes"]) button(p);
  step("pomodoro presets 25/5/15");
  await click("Start");
  await waitFor("the countdown to move", () => text($("[data-testid=display]")) === "24:59", 3000);
  await click("Pause");
  const paused = text($("[data-testid=display]"));
  await sleep(1500);
  check(text($("[data-testid=display]")) === paused, "pause did not stop the clock");
  step("starts and pauses");
}
