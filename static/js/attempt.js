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

  // Both states are live regions written on every key typed: a write that changes nothing is skipped, so a
  // screen reader does not hear it again and the browser does not lay the page out again (a fifth of the
  // page's work per key in the math editor on a 46-formula attempt).
  function showGlobal() {
    if (closed) return;
    const saving = unsaved.size;
    const text = saving ? `Unsaved changes (${saving} part${saving > 1 ? "s" : ""}) · saving…` : "All answers saved";
    if (globalState.textContent !== text) globalState.textContent = text;
    globalState.classList.toggle("unsaved", saving > 0);
  }

  function setState(part, text, kind) {
    const el = part.querySelector(".save-state");
    if (el.textContent !== text) el.textContent = text;
    if (el.dataset.state !== kind) el.dataset.state = kind;
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
      if (part.dataset.kind === "symbolic") offerOtherMode(part);
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
    const body = new FormData(), sent = valueOf(part);
    body.append("answer", sent);
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
    if (data.as_text) readAsText.set(part.id, {of: sent, text: data.as_text});
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
  form.addEventListener("change", (e) => {  // a text field's change on leaving it repeats its input events
    const p = e.target.closest(".attempt-part");
    if (p && !e.target.matches("input[type=text], math-field")) changed(p);
  });
  // Submitting with parts unanswered asks first, naming them as the page does ("Question 2 (title), part 2");
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
    unsaved.clear();  // the form carries every value: no autosave after it
    timers.forEach((timer) => clearTimeout(timer));
    timers.clear();
  });
  window.addEventListener("beforeunload", (e) => { if (unsaved.size && !closed) { e.preventDefault(); e.returnValue = ""; } });

  // Symbolic parts: plain text or the math editor (MathLive), one button apart. The text field holds the answer
  // that is saved and submitted; the math editor writes its LaTeX there. A part opens in the form its saved
  // answer was typed in (where the two differ), else in the form this browser's learner last chose, else in
  // plain text when the part's names are longer than one letter (n_kv_heads), in the math editor otherwise.
  const MODE_KEY = "quantprep.formulaMode";
  function storedMode() {
    try { return localStorage.getItem(MODE_KEY); } catch (err) { return null; }
  }
  function storeMode(mode) {
    try { localStorage.setItem(MODE_KEY, mode); } catch (err) { /* storage off: the choice lasts this page */ }
  }
  const looksLikeLatex = (text) => /[\\{]/.test(text);
  const typers = new Map();  // part id -> types plain text into that part's math editor
  const readAsText = new Map();  // part id -> {of: the answer saved, text: how the server read it, as plain text}

  // Typing in the math editor means what the same keys mean typed plainly: "_" continues a name (n_kv_heads
  // stays one name, not a staircase of subscripts); "^" and "/" open an exponent or a denominator that holds
  // one operand (a number, a name, a call, a bracket, with its own exponent), left as soon as a typed key
  // cannot continue it. After any other key (arrows, Backspace, undo) or a click, MathLive's own rules apply.
  const FUNCTION_NAMES = new Set(["sqrt", "exp", "log", "ln", "log2", "log10", "abs", "min", "max", "round",
                                  "floor", "ceil", "clamp"]);
  const newSlot = () => ({depth: 0, last: "", word: ""});

  function endsOperand(slot, ch) {
    if (slot.depth > 0 || slot.last === "" || slot.last === "sign") return false;
    if (ch === "^" || ch === "!") return false;
    if (slot.last === "num") return !/[0-9.]/.test(ch);
    if (slot.last === "name") return !(/[A-Za-z0-9_]/.test(ch) || (ch === "(" && FUNCTION_NAMES.has(slot.word)));
    return true;  // after a closing bracket or an exponent
  }

  function noteTyped(slot, ch) {
    if (ch === "(") slot.depth += 1;
    else if (ch === ")") { if (slot.depth > 0 && --slot.depth === 0) slot.last = "close"; }
    else if (slot.depth > 0) return;
    else if (ch === "^" || ch === "/" || ch === "!") slot.last = "close";
    else if (/[A-Za-z_]/.test(ch) || (/[0-9]/.test(ch) && slot.last === "name")) {
      slot.word = slot.last === "name" ? slot.word + ch : ch;
      slot.last = "name";
    } else if (/[0-9.]/.test(ch)) slot.last = "num";
    else if ((ch === "-" || ch === "+") && slot.last === "") slot.last = "sign";
  }

  function typeInMath(mf, slots, ch) {
    while (slots.length && endsOperand(slots[slots.length - 1], ch)) {
      mf.executeCommand("moveAfterParent");
      slots.pop();
    }
    if (ch === " ") return;  // spaces only end an operand; the editor spaces the formula itself
    if (slots.length) noteTyped(slots[slots.length - 1], ch);
    if (ch === "_") mf.executeCommand(["insert", "\\_"]);
    else if (ch === "^") { mf.executeCommand("moveToSuperscript"); slots.push(newSlot()); }
    else if (ch === "/") { mf.executeCommand(["insert", "\\frac{#@}{#?}"]); slots.push(newSlot()); }
    else mf.executeCommand(["typedText", ch]);
  }

  function typeLinearly(mf) {
    let slots = [];
    mf.addEventListener("keydown", (e) => {
      if (e.isComposing || e.ctrlKey || e.metaKey || e.altKey || e.key.length !== 1 || e.key === "\\"
          || mf.mode !== "math") {  // a backslash starts a LaTeX command, which MathLive reads itself
        if (!["Shift", "Control", "Alt", "Meta", "CapsLock"].includes(e.key)) slots = [];
        return;
      }
      e.preventDefault();
      e.stopPropagation();
      typeInMath(mf, slots, e.key);
      mf.dispatchEvent(new Event("input", {bubbles: true}));
    }, true);
    mf.addEventListener("paste", (e) => {  // pasted plain text reads as if typed; pasted LaTeX as MathLive reads it
      const text = e.clipboardData ? e.clipboardData.getData("text/plain") : "";
      if (!text || looksLikeLatex(text) || mf.mode !== "math") return;
      e.preventDefault();
      e.stopPropagation();
      for (const ch of text.replace(/\s+/g, " ")) typeInMath(mf, slots, ch);
      mf.dispatchEvent(new Event("input", {bubbles: true}));
    }, true);
    mf.addEventListener("pointerdown", () => { slots = []; });
    mf.addEventListener("focusout", () => { slots = []; });
    return (text) => {  // the same keys typed from the start: plain text turned into the editor's form
      slots = [];
      mf.value = "";
      for (const ch of text) typeInMath(mf, slots, ch);
      slots = [];
    };
  }

  function setMode(part, mode, focus) {
    const mf = mathField(part), input = textInput(part), math = mode === "math";
    const converting = math && part.dataset.mode !== "math" && input.value !== mf.value;
    part.dataset.mode = mode;
    mf.hidden = !math;
    input.hidden = math;
    if (converting) {  // plain text into the editor, as if typed there; LaTeX as it is
      if (looksLikeLatex(input.value) || input.value === "") mf.value = input.value;
      else typers.get(part.id)(input.value);
      if (input.value !== mf.value) { input.value = mf.value; changed(part); }
    }
    const read = readAsText.get(part.id);
    if (!math && read && read.of === input.value && read.text !== input.value) {  // the editor's LaTeX, as text
      input.value = read.text;
      changed(part);
    }
    part.querySelector(".mode-toggle").textContent = math ? "Type plain text instead" : "Use the math editor";
    if (focus) requestAnimationFrame(() => (math ? mf : input).focus());  // once the field is laid out
  }

  function otherMode(part) { return part.dataset.mode === "math" ? "text" : "math"; }
  function switchMode(part) {
    const mode = otherMode(part);
    storeMode(mode);
    setMode(part, mode, true);
  }

  // A formula that does not read offers the other way of typing it, as a button in the message.
  function offerOtherMode(part) {
    const message = part.querySelector(".preview .verdict.invalid");
    if (!message || !typers.has(part.id)) return;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "switch-mode";
    button.textContent = otherMode(part) === "text" ? "Type it as plain text instead" : "Try the math editor";
    button.addEventListener("click", () => switchMode(part));
    message.append(" ", button);
  }

  function setUpMath() {
    const fonts = document.querySelector("[data-mathlive-fonts]");
    if (window.MathfieldElement && fonts) MathfieldElement.fontsDirectory = fonts.dataset.mathliveFonts;
    form.querySelectorAll(".attempt-part[data-kind=symbolic]").forEach((part) => {
      const mf = mathField(part), input = textInput(part), toggle = part.querySelector(".mode-toggle");
      if (!window.MathfieldElement || !mf.executeCommand) {
        toggle.hidden = true;
        part.dataset.mode = "text";
        return;
      }
      mf.smartFence = false;
      mf.smartSuperscript = false;
      mf.inlineShortcuts = {};  // "batch" stays b, a, t, c, h (not bat\operatorname{ch}), "d" stays d
      mf.mathVirtualKeyboardPolicy = "manual";  // the on-screen keyboard only when asked for: no page jumps
      typers.set(part.id, typeLinearly(mf));
      mf.addEventListener("input", () => { input.value = mf.value; });
      toggle.addEventListener("click", () => switchMode(part));
      const longNames = part.dataset.symbols.split(" ").some((name) => name.length > 1);
      let mode = storedMode() || (longNames ? "text" : "math");
      if (looksLikeLatex(input.value)) mode = "math";
      else if (/[_^/]/.test(input.value)) mode = "text";  // the editor would have written it otherwise
      if (mode === "math") mf.value = input.value;
      part.dataset.mode = mode;  // nothing to convert on the way in
      setMode(part, mode, false);
      offerOtherMode(part);
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
