// The attempt page: autosave (debounced) with a visible saved/unsaved state, the live "we read your answer
// as" preview, the math editor, practice checks, and a countdown drawn from the server's deadline.
// The countdown only decides when to ask the server; the server decides whether time is up.
(function () {
  "use strict";
  const form = document.getElementById("attempt-form");
  if (!form) return;
  const csrf = form.querySelector("[name=csrfmiddlewaretoken]").value;
  const globalState = document.getElementById("save-status");
  const DEBOUNCE_MS = 600;
  const timers = new Map();
  const unsaved = new Set();
  let closed = false;

  function showGlobal() {
    if (closed) return;
    const saving = [...unsaved].length;
    globalState.textContent = saving ? `Unsaved changes (${saving} part${saving > 1 ? "s" : ""}) · saving…` : "All answers saved";
    globalState.classList.toggle("unsaved", saving > 0);
  }

  function setState(part, text, kind) {
    const el = part.querySelector(".save-state");
    el.textContent = text;
    el.dataset.state = kind;
  }

  function textInput(part) { return part.querySelector("input[type=text]"); }
  function mathField(part) { return part.querySelector("math-field"); }

  function valueOf(part) {
    const kind = part.dataset.kind;
    if (kind === "single_choice" || kind === "multiple_choice") {
      return [...part.querySelectorAll("input:checked")].map((i) => i.value).join(",");
    }
    return textInput(part).value;
  }

  function showPreview(part, data) {
    const box = part.querySelector(".preview");
    box.textContent = "";
    if (data.error) {
      const p = document.createElement("p");
      p.className = "verdict invalid";
      p.textContent = "Not readable yet: " + data.error;
      box.appendChild(p);
    } else if (data.read_as && part.dataset.kind !== "single_choice" && part.dataset.kind !== "multiple_choice") {
      const p = document.createElement("p");
      p.append("We read your answer as ");
      const span = document.createElement("span");
      span.className = "read-as";
      if (window.katex) katex.render(data.read_as, span, {throwOnError: false});
      else span.textContent = data.read_as;
      p.appendChild(span);
      box.appendChild(p);
    }
  }

  function timeUp(message, reviewUrl) {
    closed = true;
    globalState.textContent = message;
    globalState.classList.add("closed");
    form.querySelectorAll("input, button, math-field").forEach((el) => { el.disabled = true; });
    setTimeout(() => { window.location.href = reviewUrl; }, 2500);
  }

  // One request per part at a time, so an older text can never overwrite a newer one on the server.
  const inFlight = new Set();
  const retry = (part, attempt) => timers.set(part.id, setTimeout(() => save(part, attempt + 1),
                                                                  Math.min(10000, 1000 * 2 ** attempt)));

  async function save(part, attempt = 1) {
    timers.delete(part.id);
    if (inFlight.has(part.id)) { timers.set(part.id, setTimeout(() => save(part, attempt), 200)); return; }
    inFlight.add(part.id);
    const body = new FormData();
    body.append("answer", valueOf(part));
    setState(part, "Saving…", "saving");
    let response, data;
    try {
      response = await fetch(part.dataset.autosaveUrl, {method: "POST", body, credentials: "same-origin",
                                                        headers: {"X-CSRFToken": csrf}});
      data = await response.json().catch(() => ({}));
    } catch (err) {
      setState(part, "Not saved (offline?) · retrying", "error");
      retry(part, attempt);
      return;
    } finally {
      inFlight.delete(part.id);
    }
    if (response.status === 409) {
      setState(part, "Not saved", "error");
      timeUp(data.error || "This attempt is closed.", data.review_url);
      return;
    }
    if (!response.ok) {
      setState(part, "Not saved · retrying", "error");
      retry(part, attempt);
      return;
    }
    if (!timers.has(part.id)) {  // nothing newer typed while this request was in flight
      unsaved.delete(part.id);
      setState(part, "Saved " + new Date(data.saved_at).toLocaleTimeString(), "saved");
    }
    showPreview(part, data);
    showGlobal();
  }

  function changed(part) {
    if (closed) return;
    unsaved.add(part.id);
    setState(part, "Unsaved", "unsaved");
    showGlobal();
    clearTimeout(timers.get(part.id));
    timers.set(part.id, setTimeout(() => save(part), DEBOUNCE_MS));
  }

  form.addEventListener("input", (e) => { const p = e.target.closest(".attempt-part"); if (p) changed(p); });
  form.addEventListener("change", (e) => { const p = e.target.closest(".attempt-part"); if (p) changed(p); });
  // Submitting with parts unanswered asks first, naming them as the page does ("Question 2 (title), part b");
  // with every part answered it submits at once. The server submits whatever it is sent either way.
  const confirmBox = document.getElementById("submit-confirm");
  let confirmed = false;
  function firstInput(part) {
    return [...part.querySelectorAll("input, math-field")].find((el) => !el.hidden && !el.disabled);
  }
  function askFirst(empty) {
    const list = document.getElementById("submit-confirm-list");
    list.textContent = "";
    empty.forEach((part) => {
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.href = "#" + part.id;
      a.textContent = part.dataset.label;
      a.addEventListener("click", (e) => {
        e.preventDefault();
        confirmBox.close();
        part.scrollIntoView({block: "center"});
        const input = firstInput(part);
        if (input) input.focus();
      });
      li.appendChild(a);
      list.appendChild(li);
    });
    document.getElementById("submit-confirm-count").textContent =
      empty.length === 1 ? "1 part has" : `${empty.length} parts have`;
    confirmBox.showModal();
  }
  if (confirmBox) {
    document.getElementById("keep-working").addEventListener("click", () => confirmBox.close());
    document.getElementById("submit-anyway").addEventListener("click", () => {
      confirmed = true;
      confirmBox.close();
      form.requestSubmit(document.getElementById("submit-attempt"));
    });
  }
  form.addEventListener("submit", (e) => {
    const empty = [...form.querySelectorAll(".attempt-part")].filter((p) => valueOf(p).trim() === "");
    if (confirmBox && empty.length && !confirmed && !closed) {
      e.preventDefault();
      askFirst(empty);
      return;
    }
    unsaved.clear();  // the form carries every value
  });
  window.addEventListener("beforeunload", (e) => { if (unsaved.size && !closed) { e.preventDefault(); e.returnValue = ""; } });

  // Symbolic parts: the math editor writes LaTeX into the text field, which is what is saved and submitted.
  function useMath(part, on) {
    const mf = mathField(part), input = textInput(part);
    mf.hidden = !on;
    input.hidden = on;
    part.querySelector(".mode-toggle").textContent = on ? "Type plain text instead" : "Use the math editor";
    if (on && (input.value === "" || /[\\{]/.test(input.value))) mf.value = input.value;
    (on ? mf : input).focus();
  }
  function setUpMath() {
    const fonts = document.querySelector("[data-mathlive-fonts]");
    if (window.MathfieldElement && fonts) MathfieldElement.fontsDirectory = fonts.dataset.mathliveFonts;
    form.querySelectorAll(".attempt-part[data-kind=symbolic]").forEach((part) => {
      const mf = mathField(part), input = textInput(part);
      if (!window.MathfieldElement) { part.querySelector(".mode-toggle").hidden = true; return; }
      mf.addEventListener("input", () => { input.value = mf.value; });
      part.querySelector(".mode-toggle").addEventListener("click", () => useMath(part, mf.hidden));
      const plain = input.value !== "" && !/[\\{]/.test(input.value);
      mf.hidden = plain;
      input.hidden = !plain;
      if (!plain) mf.value = input.value;
      part.querySelector(".mode-toggle").textContent = plain ? "Use the math editor" : "Type plain text instead";
    });
  }

  // Practice: check one part now.
  form.querySelectorAll(".attempt-part button.check").forEach((button) => {
    button.addEventListener("click", async () => {
      const part = button.closest(".attempt-part");
      clearTimeout(timers.get(part.id));
      timers.delete(part.id);
      while (inFlight.has(part.id)) await new Promise((done) => setTimeout(done, 50));  // keep the order
      const body = new FormData();
      body.append("answer", valueOf(part));
      const response = await fetch(part.dataset.checkUrl, {method: "POST", body, credentials: "same-origin",
                                                           headers: {"X-CSRFToken": csrf}});
      const box = part.querySelector(".practice-verdict");
      box.innerHTML = await response.text();
      if (window.renderMath) renderMath(box);
      if (response.ok) { unsaved.delete(part.id); setState(part, "Saved", "saved"); showGlobal(); }
    });
  });

  // The countdown: remaining time as the server computed it, counted down on this machine's monotonic
  // clock (so a wrong wall clock here changes nothing). At zero, ask the server, which submits the attempt.
  const countdown = document.getElementById("countdown");
  if (countdown) {
    const end = performance.now() + Number(countdown.dataset.remainingMs);
    const tick = () => {
      const left = Math.max(0, end - performance.now());
      const s = Math.ceil(left / 1000);
      countdown.textContent = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
      countdown.classList.toggle("low", s <= 60);
      if (left <= 0) {
        closed = true;
        globalState.textContent = "Time is up: submitting…";
        // A moment's margin, so the server's clock has certainly passed the deadline too.
        setTimeout(() => { window.location.href = countdown.dataset.attemptUrl; }, 300);
        return;
      }
      setTimeout(tick, Math.min(250, left));
    };
    tick();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setUpMath);
  else setUpMath();
})();
