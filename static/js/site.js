// Render LaTeX in the page, and again in whatever htmx swaps in.
function renderMath(root) {
  if (!window.renderMathInElement) return;
  renderMathInElement(root, {
    delimiters: [
      {left: "$$", right: "$$", display: true}, {left: "\\[", right: "\\]", display: true},
      {left: "$", right: "$", display: false}, {left: "\\(", right: "\\)", display: false},
    ],
    throwOnError: false,
  });
  root.querySelectorAll("[data-latex]").forEach((el) => {
    katex.render(el.dataset.latex, el, {throwOnError: false});
  });
}
document.addEventListener("DOMContentLoaded", () => renderMath(document.body));
document.addEventListener("htmx:afterSwap", (event) => renderMath(event.detail.target));
