// Entry for static/vendor/codemirror/codemirror.min.js (IIFE, built by ../build.mjs).
//
// Exposes window.QPCodeMirror:
//   mount(textarea, options?) -> EditorView
//       Replaces a <textarea> by a CodeMirror 6 editor (basicSetup + Python).
//       The textarea stays in the form (hidden) and its value is updated on
//       every change, so a normal form POST submits the code.
//       options: { readOnly?: boolean, extensions?: Extension[] }
//   mountAll(root = document, selector = "textarea[data-codemirror]") -> EditorView[]
//   unmount(textarea)   restores the textarea and destroys the editor
//   EditorView, EditorState   re-exported for page scripts
//
// Keyboard: Tab / Shift-Tab indent and dedent by four spaces (indentWithTab). To leave the
// editor with the keyboard, press Escape then Tab (or Shift-Tab), as
// CodeMirror documents; Ctrl-M (Shift-Alt-M on macOS) toggles "Tab moves
// focus" mode for the editor. Escape lets Tab leave even when it also closes
// the autocompletion (CodeMirror's own Escape handling is skipped then, and
// while typing a completion is often pending, unseen: a keyboard trap).
import { basicSetup } from "codemirror";
import { EditorView, keymap } from "@codemirror/view";
import { EditorState, Prec } from "@codemirror/state";
import { indentWithTab } from "@codemirror/commands";
import { indentUnit } from "@codemirror/language";
import { python } from "@codemirror/lang-python";

const VIEW = Symbol("qpCodeMirrorView");
const CLEANUP = Symbol("qpCodeMirrorCleanup");

function accessibleName(textarea) {
  // Carry the textarea's label over to the editable content element.
  const attrs = {};
  const ariaLabel = textarea.getAttribute("aria-label");
  if (ariaLabel) attrs["aria-label"] = ariaLabel;
  const labelledBy = textarea.getAttribute("aria-labelledby");
  if (labelledBy) {
    attrs["aria-labelledby"] = labelledBy;
  } else if (!ariaLabel && textarea.labels && textarea.labels.length) {
    const ids = [];
    for (const label of textarea.labels) {
      if (!label.id) {
        label.id = `${textarea.id || textarea.name || "qp-code"}-label-${Math.random().toString(36).slice(2, 8)}`;
      }
      ids.push(label.id);
    }
    attrs["aria-labelledby"] = ids.join(" ");
  }
  const describedBy = textarea.getAttribute("aria-describedby");
  if (describedBy) attrs["aria-describedby"] = describedBy;
  return attrs;
}

function escapeLetsTabLeave(view) {
  view.setTabFocusMode(2000); // as CodeMirror does on Escape: Tab moves the focus for two seconds
  return false; // and Escape still does what else it does (close the completion)
}

export function mount(textarea, options = {}) {
  if (!(textarea instanceof HTMLTextAreaElement)) {
    throw new TypeError("QPCodeMirror.mount expects a <textarea> element");
  }
  if (textarea[VIEW]) return textarea[VIEW];

  const readOnly = options.readOnly ?? (textarea.readOnly || textarea.disabled);
  const sync = EditorView.updateListener.of((update) => {
    if (update.docChanged) {
      textarea.value = update.state.doc.toString();
      textarea.dispatchEvent(new Event("input", { bubbles: true }));
    }
  });

  const view = new EditorView({
    doc: textarea.value,
    extensions: [
      // before basicSetup: the autocompletion's Escape binding, also of the highest precedence, stops the key
      Prec.highest(keymap.of([{ key: "Escape", run: escapeLetsTabLeave }])),
      basicSetup,
      keymap.of([indentWithTab]),
      python(),
      indentUnit.of("    "), // PEP 8: four spaces
      sync,
      EditorState.readOnly.of(readOnly),
      EditorView.editable.of(!readOnly),
      EditorView.contentAttributes.of(accessibleName(textarea)),
      ...(options.extensions || []),
    ],
  });

  view.dom.classList.add("qp-codemirror");
  textarea.insertAdjacentElement("afterend", view.dom);
  textarea.style.display = "none";

  // A hidden `required` textarea would block submission with an unfocusable
  // validation error; validation of the code is the server's job.
  const wasRequired = textarea.required;
  textarea.required = false;

  // Clicking the textarea's <label> focuses the editor.
  const onLabelClick = (event) => {
    event.preventDefault();
    view.focus();
  };
  const labels = Array.from(textarea.labels || []);
  for (const label of labels) label.addEventListener("click", onLabelClick);

  // Form reset restores the initial text in the editor too.
  const form = textarea.form;
  const onReset = () => {
    setTimeout(() => {
      view.dispatch({
        changes: { from: 0, to: view.state.doc.length, insert: textarea.defaultValue },
      });
    }, 0);
  };
  // Belt and braces: make sure the latest text is in the textarea on submit.
  const onSubmit = () => {
    textarea.value = view.state.doc.toString();
  };
  if (form) {
    form.addEventListener("reset", onReset);
    form.addEventListener("submit", onSubmit, true);
  }

  textarea[VIEW] = view;
  textarea[CLEANUP] = () => {
    for (const label of labels) label.removeEventListener("click", onLabelClick);
    if (form) {
      form.removeEventListener("reset", onReset);
      form.removeEventListener("submit", onSubmit, true);
    }
    textarea.required = wasRequired;
  };
  return view;
}

export function unmount(textarea) {
  const view = textarea && textarea[VIEW];
  if (!view) return;
  textarea.value = view.state.doc.toString();
  textarea[CLEANUP]();
  view.destroy();
  textarea.style.display = "";
  delete textarea[VIEW];
  delete textarea[CLEANUP];
}

export function mountAll(root = document, selector = "textarea[data-codemirror]") {
  return Array.from(root.querySelectorAll(selector), (el) => mount(el));
}

export { EditorView, EditorState };
