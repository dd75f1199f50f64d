async function run(step) {
  const status = () => text($("[data-testid=status]"));
  for (let i = 0; i < 9 && !/wins|draw/.test(status()); i++) {
    const free = $$("[data-cell]").find((c) => !c.disabled);
    await click(free);
  }
  check(status() === "O wins!" || status() === "It's a draw!", "vs computer ended with " + status());
  check(/X 0 · O \d · Draws \d/.test(text($("[data-testid=tally]"))), "tally " + text($("[data-testid=tally]")));
  step("played to the end against the computer: " + status());
  $("input[type=checkbox]").click();
  await sleep(50);
  for (const cell of [0, 3, 1, 4, 2]) await click($(`[data-cell="${cell}"]`));
  check(status() === "X wins!", "two players: " + status());
  check($$("[data-cell]").every((c) => c.disabled), "board still playable after a win");
  step("two players: X wins with the top row");
}
