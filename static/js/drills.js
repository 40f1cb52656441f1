// The drill review page: reveal the back (Space), rate with 1-4, mark the suggested rating after a check.
document.addEventListener("DOMContentLoaded", () => {
  const back = document.getElementById("back");
  if (!back) return;  // nothing due: no card on the page
  function reveal() { back.hidden = false; document.getElementById("reveal-hint").hidden = true; }
  document.getElementById("reveal").addEventListener("click", reveal);
  document.body.addEventListener("htmx:afterSwap", () => {
    const r = document.querySelector("#check-result");
    if (!r) return;
    reveal();
    document.querySelectorAll("#rate-form button").forEach((b) => b.classList.toggle("suggested", b.dataset.rating === r.dataset.suggest));
    document.getElementById("answer").blur();
  });
  let sent = false;
  document.addEventListener("keydown", (e) => {
    if (e.target.closest && e.target.closest("input, textarea, select")) return;
    if (e.key === " ") { e.preventDefault(); reveal(); return; }
    if (!back.hidden && !sent && ["1", "2", "3", "4"].includes(e.key)) {
      sent = true;
      document.getElementById("rate-" + e.key).click();
    }
  });
});
