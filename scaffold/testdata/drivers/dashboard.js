async function run(step) {
  const bars = () => $$("svg rect.chart-bar").length;
  check(bars() === 12 || bars() === 6 || bars() === 3, "bars: " + bars());
  const cards = $$(".summary-card");
  check(cards.length === 5, cards.length + " summary cards");
  const chartLabel = () => $("svg[role=img]").getAttribute("aria-label");
  const before = chartLabel();
  await click(cards[1]);
  check(chartLabel() !== before, "clicking a card did not chart its metric");
  step("5 metrics, bar chart of " + bars() + " months, switching metric");
  const rows = $$("table tbody tr").length;
  check(rows === bars(), "table rows " + rows + " vs bars " + bars());
  step("table matches the chart");
}
