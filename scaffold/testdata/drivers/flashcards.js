async function run(step) {
  const progress = () => text($("[data-testid=progress]"));
  check(progress() === "0 of 6 known · 6 left", "progress " + progress());
  let missedOnce = false;
  for (let i = 0; i < 20 && !$("[data-testid=done]"); i++) {
    const front = text($(".flashcard-side"));
    await click($(".flashcard"));
    check(text($(".flashcard-side")) !== front, "flipping did not show the back of " + front);
    if (!missedOnce) {
      missedOnce = true;
      await click("Again");
    } else {
      await click("I knew it");
    }
  }
  check(text($("[data-testid=done]")) === "Deck done: 6 of 6 known", "end: " + text($("[data-testid=done]")));
  step("flip, miss one, it comes back, deck done 6 of 6");
}
