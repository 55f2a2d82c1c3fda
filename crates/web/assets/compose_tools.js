// Tidings admin app: the composer's formatting toolbar over the Markdown body. Each button writes
// Markdown at the selection (wrapping it, or a placeholder that is left selected to type over),
// Ctrl/Cmd+B, I and K do bold, italic and link, and Image uploads a picture to Tidings
// (`POST /app/uploads`) and writes it as a Markdown image at its public address. Every change
// fires the textarea's `input` event, so the preview follows as if it were typed.
(() => {
  "use strict";
  const body = document.getElementById("body");
  const bar = document.querySelector(".md-toolbar");
  if (!body || !bar) return;
  const { csrf, errorText, menu } = window.TidingsAdmin;
  const $ = (id) => document.getElementById(id);

  /** Replaces the text from `start` to `end` with `text`, then selects `[selStart, selEnd)` of it. */
  function put(start, end, text, selStart = text.length, selEnd = selStart) {
    body.focus();
    body.setSelectionRange(start, end);
    // insertText keeps the browser's undo; setRangeText where it is missing.
    if (!document.execCommand || !document.execCommand("insertText", false, text)) {
      body.setRangeText(text, start, end, "end");
      body.dispatchEvent(new Event("input", { bubbles: true }));
    }
    body.setSelectionRange(start + selStart, start + selEnd);
  }

  /** Wraps the selection in `mark` (or a selected placeholder between two of them). */
  function wrap(mark, placeholder) {
    const { selectionStart: s, selectionEnd: e, value } = body;
    const chosen = value.slice(s, e);
    const text = chosen || placeholder;
    put(s, e, mark + text + mark, mark.length, mark.length + text.length);
  }

  /** A link (or a button: a link titled "button") on the selected words, its address selected. */
  function link(button) {
    const { selectionStart: s, selectionEnd: e, value } = body;
    const chosen = value.slice(s, e);
    const isUrl = /^(https?:\/\/|mailto:)\S+$/i.test(chosen.trim());
    const words = isUrl ? (button ? "Button text" : "link text") : chosen || (button ? "Button text" : "link text");
    const url = isUrl ? chosen.trim() : "https://";
    const text = `[${words}](${url}${button ? ' "button"' : ""})`;
    // Select what is still to write: the address, or the words when the address was given.
    if (isUrl) put(s, e, text, 1, 1 + words.length);
    else put(s, e, text, words.length + 3, words.length + 3 + url.length);
  }

  /** Starts every selected line with `prefix` (a heading's `#`s replace the ones there). */
  function lines(prefix, heading) {
    const { selectionStart: s, selectionEnd: e, value } = body;
    const start = value.lastIndexOf("\n", s - 1) + 1;
    let end = value.indexOf("\n", e);
    if (end < 0 || (e > s && value[e - 1] === "\n")) end = end < 0 ? value.length : e - 1;
    const text = value.slice(start, end).split("\n").map((l) => {
      if (heading) return prefix + l.replace(/^#{1,6}\s*/, "");
      return l.startsWith(prefix) ? l : prefix + l;
    }).join("\n");
    put(start, end, text, text.length);
  }

  const DO = {
    bold: () => wrap("**", "bold text"),
    italic: () => wrap("_", "italic text"),
    link: () => link(false),
    button: () => link(true),
    list: () => lines("- ", false),
    h1: () => lines("# ", true),
    h2: () => lines("## ", true),
    h3: () => lines("### ", true),
  };

  const headings = menu($("heading-button"), $("heading-menu"));
  bar.addEventListener("click", (ev) => {
    const b = ev.target.closest("button[data-md]");
    if (!b) return;
    if (b.closest("#heading-menu")) headings.close(false);
    DO[b.dataset.md]();
  });
  body.addEventListener("keydown", (ev) => {
    if (!(ev.ctrlKey || ev.metaKey) || ev.altKey || ev.shiftKey) return;
    const run = { b: DO.bold, i: DO.italic, k: DO.link }[ev.key.toLowerCase()];
    if (!run) return;
    ev.preventDefault();
    run();
  });

  // Image: the file goes to Tidings as it is; Tidings checks its kind by its first bytes.
  const status = $("image-status");
  $("image-button").addEventListener("click", () => $("image-file").click());
  $("image-file").addEventListener("change", async () => {
    const file = $("image-file").files[0];
    $("image-file").value = "";
    if (!file) return;
    const { selectionStart: s, selectionEnd: e } = body;
    status.textContent = `Uploading ${file.name}…`;
    $("image-button").disabled = true;
    try {
      const r = await fetch("/app/uploads", {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRF-Token": csrf, "Content-Type": file.type || "application/octet-stream" },
        body: file,
      });
      const json = await r.json().catch(() => ({}));
      if (!r.ok) throw json;
      const alt = file.name.replace(/\.[^.]+$/, "").replace(/[[\]\\]/g, " ").trim() || "image";
      const before = s > 0 && body.value[s - 1] !== "\n" ? "\n\n" : "";
      const text = `${before}![${alt}](${json.url})\n`;
      put(s, e, text, text.length);
      status.textContent = "";
    } catch (err) {
      status.textContent = errorText(err, "The image could not be uploaded. Try again.");
    } finally {
      $("image-button").disabled = false;
    }
  });
})();
