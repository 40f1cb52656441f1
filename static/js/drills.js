// The drill review page: reveal the back (Space, unless a button or link has the focus: Space is its own key
// then), rate with 1-4, mark the suggested rating after a check.
document.addEventListener("DOMContentLoaded", () => {
  const back = document.getElementById("back");
  if (!back) return;  // nothing due: no card on the page
  function reveal() {
    const hint = document.getElementById("reveal-hint");
    const hadFocus = hint.contains(document.activeElement);
    back.hidden = false;
    hint.hidden = true;
    if (hadFocus) back.focus();  // the focus goes on to the answer, not back to the top of the page
  }
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
    if (e.key === " " && !e.target.closest("button, a, summary")) { e.preventDefault(); reveal(); return; }
    if (!back.hidden && !sent && ["1", "2", "3", "4"].includes(e.key)) {
      sent = true;
      document.getElementById("rate-" + e.key).click();
    }
  });
});
