async function run(step) {
  const slots = () => $$("select[name=time] option").map((o) => o.value);
  check(slots()[0] === "09:00" && slots().length === 8, "slots " + slots());
  type($("input[name=title]"), "Haircut for Sam");
  await click("Add appointment");
  const list = () => $$("[data-testid=day-list] li").map(text);
  check(list().length === 1 && list()[0].startsWith("09:00 Haircut for Sam"), "day list " + list());
  check(!slots().includes("09:00"), "09:00 still bookable");
  step("booked 09:00; the slot is taken");
  for (let i = 0; i < 7; i++) {
    type($("input[name=title]"), "Client " + i);
    await click("Add appointment");
  }
  check(button("Fully booked").disabled, "a full day still takes bookings");
  step("a full day says Fully booked");
  const today = $(".calendar-day.is-selected");
  check(today && /8 appointments/.test(today.getAttribute("aria-label")), "grid count " + (today && today.getAttribute("aria-label")));
  await click("Next month");
  check(text($(".calendar-nav .panel-title")) !== "", "month title");
  step("month grid shows the count and navigates");
}
