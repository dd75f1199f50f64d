async function run(step) {
  check($$(".feature, .feature-card, #features li, #features article").length >= 3 || text($("#features")).includes("Menu"), "features missing");
  const email = $("#cta-email");
  type(email, "bad");
  email.form.requestSubmit();
  await sleep(50);
  check(!$(".cta-thanks"), "a bad email was accepted");
  type($("#cta-email"), "me@example.com");
  $("#cta-email").form.requestSubmit();
  await waitFor("thanks", () => $(".cta-thanks"));
  step("sign-up validates and thanks");
}
