async function run(step) {
  // Right, right, right, wrong, wrong: the score must be 3 of 5.
  const picks = ["Paris", "Tokyo", "Ottawa", "Melbourne", "Mombasa"];
  for (let i = 0; i < picks.length; i++) {
    await click(picks[i]);
    check(text($(".quiz-feedback")) !== "", "no feedback after answering");
    await click(i < picks.length - 1 ? "Next question" : "See my score");
  }
  const s = text($("[data-testid=score]"));
  check(s === "You scored 3 out of 5", "score: " + s);
  step("3 right of 5 scores 3");
  await waitFor("best score", () => text($$("p.muted").find((p) => text(p).startsWith("Best score"))) === "Best score: 3");
  await click("Play again");
  check(text($(".quiz-question")) === "What is the capital of France?", "play again restarts");
  step("best score kept, play again restarts");
}
