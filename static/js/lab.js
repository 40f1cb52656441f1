// The lab page: the code editor on the solution's textarea (the textarea works without it), the draft's
// autosave (1.5 s after typing stops, and when the page is hidden or left) with a visible "Draft saved hh:mm",
// and "Reset to starter", which asks first in a modal dialog.
document.addEventListener("DOMContentLoaded", () => {
  const textarea = document.getElementById("code");
  if (!textarea) return;
  if (window.QPCodeMirror) window.codeEditor = QPCodeMirror.mount(textarea);
  const form = document.getElementById("submit-form");
  const status = document.getElementById("draft-status");
  const url = textarea.dataset.draftUrl;
  const csrf = form.querySelector("[name=csrfmiddlewaretoken]").value;
  const DEBOUNCE_MS = 1500;
  let timer = null, savedCode = textarea.value, inFlight = null, savedText = status.textContent;

  function show(text, error) {
    status.textContent = text;
    status.classList.toggle("error", Boolean(error));
  }

  function body(code) {
    const data = new FormData();
    data.append("csrfmiddlewaretoken", csrf);
    data.append("code", code);
    return data;
  }

  async function save() {
    clearTimeout(timer);
    timer = null;
    if (inFlight) await inFlight;  // one save at a time: an older text never lands after a newer one
    const code = textarea.value;
    if (code === savedCode) { show(savedText); return; }
    show("Saving draft…");
    inFlight = (async () => {
      try {
        const response = await fetch(url, {method: "POST", body: body(code), credentials: "same-origin",
                                          headers: {"X-CSRFToken": csrf}});
        const data = await response.json().catch(() => ({}));
        if (response.ok && data.saved) {
          savedCode = code;
          savedText = "Draft saved " + data.saved_hhmm;
          if (textarea.value === code) show(savedText);
        } else {
          show(data.error || (response.status === 413 ? "Not saved: the code is too large."
                                                       : "Draft not saved (error " + response.status + ")."), true);
          if (response.status >= 500 && !timer) timer = setTimeout(save, 10000);  // ours: try again later
        }
      } catch (err) {
        show("Draft not saved (offline?): trying again…", true);
        if (!timer) timer = setTimeout(save, 10000);
      }
    })();
    await inFlight;
    inFlight = null;
  }

  textarea.addEventListener("input", () => {
    clearTimeout(timer);
    if (textarea.value === savedCode) { timer = null; show(savedText); return; }
    show("Unsaved changes");
    timer = setTimeout(save, DEBOUNCE_MS);
  });

  // Leaving or hiding the page: send what is unsaved now, with a beacon that outlives the page.
  function flush() {
    if (textarea.value === savedCode || !navigator.sendBeacon) return;
    clearTimeout(timer);
    timer = null;
    if (navigator.sendBeacon(url, body(textarea.value))) savedCode = textarea.value;
  }
  document.addEventListener("visibilitychange", () => { if (document.visibilityState === "hidden") flush(); });
  window.addEventListener("pagehide", flush);
  form.addEventListener("submit", () => { clearTimeout(timer); timer = null; });

  // Reset to starter: asks first; then the starter is in the editor and saved as the draft.
  const dialog = document.getElementById("reset-confirm");
  const resetButton = document.getElementById("reset-starter");
  resetButton.addEventListener("click", () => dialog.showModal());
  document.getElementById("reset-no").addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => resetButton.focus());
  document.getElementById("reset-yes").addEventListener("click", () => {
    const starter = document.getElementById("starter-code").value;
    if (window.codeEditor) {
      const view = window.codeEditor;
      view.dispatch({changes: {from: 0, to: view.state.doc.length, insert: starter}});
    }
    textarea.value = starter;
    dialog.close();
    savedCode = null;  // save even when the starter is what was saved last
    save();
  });
});
