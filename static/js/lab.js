// The lab page: the code editor on the solution's textarea (the textarea works without it).
document.addEventListener("DOMContentLoaded", () => {
  if (window.QPCodeMirror) window.codeEditor = QPCodeMirror.mount(document.getElementById("code"));
});
