async function run(step) {
  const tabs = $$("nav[aria-label=Categories] button").map(text);
  check(tabs[0] === "Temperature" && tabs.includes("Length") && !tabs.includes("Currency"), "categories " + tabs);
  type($("select[name=from]"), "c");
  type($("select[name=to]"), "f");
  type($("input[name=value]"), "100");
  await sleep(50);
  check(text($("[data-testid=result]")).includes("= 212 Fahrenheit"), "100 C → " + text($("[data-testid=result]")));
  step("100 °C = 212 °F");
  await click("Length");
  type($("select[name=from]"), "km");
  type($("select[name=to]"), "mi");
  type($("input[name=value]"), "10");
  await sleep(50);
  check(text($("[data-testid=result]")).includes("= 6.21371 Miles"), "10 km → " + text($("[data-testid=result]")));
  await click("Swap units");
  check(text($("[data-testid=result]")).includes("10 Miles = 16.0934 Kilometres"), "swap: " + text($("[data-testid=result]")));
  step("10 km = 6.21371 mi, swapped 16.0934 km");
}
