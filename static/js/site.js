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

// A refusal the server explains (409: not now, e.g. an exam in progress; 429: too many, try again later)
// is shown where the verdict would go, like any answer.
document.addEventListener("htmx:beforeSwap", (event) => {
  if ([409, 429].includes(event.detail.xhr.status)) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
