async function run(step) {
  const tiles = () => $$(".memory-tile");
  const status = () => text($("[data-testid=status]"));
  const seen = new Map(); // tile index -> symbol
  const done = () => status().startsWith("You found all");
  const flip = async (i) => {
    tiles()[i].click();
    await sleep(30);
    const s = tiles()[i].getAttribute("data-symbol");
    check(s, "tile " + i + " did not open");
    seen.set(i, s);
    return s;
  };
  for (let guard = 0; guard < 40 && !done(); guard++) {
    const open = tiles().map((t, i) => i).filter((i) => !tiles()[i].classList.contains("is-matched"));
    // A known pair first.
    let pair = null;
    for (const a of open) for (const b of open) if (a < b && seen.get(a) && seen.get(a) === seen.get(b)) pair = pair || [a, b];
    if (pair) {
      await flip(pair[0]);
      await flip(pair[1]);
      continue;
    }
    const a = open.find((i) => !seen.has(i));
    const sa = await flip(a);
    const partner = open.find((i) => i !== a && seen.get(i) === sa);
    const b = partner !== undefined ? partner : open.find((i) => i !== a && !seen.has(i));
    const sb = await flip(b);
    if (sa !== sb) await sleep(800);
  }
  check(done(), "game not finished: " + status());
  check(/in \d+ moves/.test(status()), status());
  step("found all 8 pairs: " + status());
}
