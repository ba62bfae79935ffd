"use strict";
/* global $, marked, DOMPurify */
/* exported render, renderSoon, removeView, clearViews */
// Drawing the transcript. Every message is a plain object (what localStorage keeps); its element is made
// once and its parts redrawn from it.
//
// The model's answer is Markdown, and nothing it writes may run script or load anything:
// 1. marked parses it with raw HTML shown as text (`<b>` stays the four characters) and images as links
//    (the page loads no image);
// 2. DOMPurify keeps only plain HTML elements and attributes of what marked wrote (no script, no event
//    handler, no javascript: URL, no style) and returns DOM nodes, not a string;
// 3. links keep only absolute http(s) and mailto targets and open in a new tab without a referrer;
// 4. the page's Content-Security-Policy runs no script but the page's own and loads no image, frame, style
//    or font from anywhere, whatever got through.
// So the model's text never reaches innerHTML unsanitized.

function escapeHtml(text) {
  const entities = { "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" };
  return String(text).replace(/[&<>"']/g, (c) => entities[c]);
}

const markdown = new marked.Marked({
  gfm: true,
  renderer: {
    // Raw HTML, a block (shown as code) or inline (shown as its text).
    html(token) {
      return token.block ? "<pre><code>" + escapeHtml(token.text) + "</code></pre>" : escapeHtml(token.text);
    },
    image(token) {
      return "<a href=\"" + escapeHtml(token.href) + "\">image: " + escapeHtml(token.text || token.href) + "</a>";
    },
  },
});

const SANITIZE = {
  USE_PROFILES: { html: true },
  FORBID_TAGS: ["style", "img", "form"],
  FORBID_ATTR: ["style", "id", "name"],
  RETURN_DOM_FRAGMENT: true,
};
const LINK_PROTOCOLS = ["http:", "https:", "mailto:"];

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function safeLink(href) {
  try {
    return LINK_PROTOCOLS.includes(new URL(href).protocol);
  } catch (_) {
    return false; // relative or malformed: it would point into this API
  }
}

// A code block: its language (from marked's `language-<name>` class) and a button that copies its text.
function codeBlock(pre) {
  const code = pre.querySelector("code");
  const language = code && [...code.classList].find((name) => name.startsWith("language-"));
  const bar = element("div", "code-bar");
  bar.appendChild(element("span", "", language ? language.slice("language-".length) : ""));
  const copy = element("button", "copy", "Copy");
  copy.type = "button";
  bar.appendChild(copy);
  const block = element("div", "code");
  pre.replaceWith(block);
  block.append(bar, pre);
}

function renderMarkdown(node, text) {
  const fragment = DOMPurify.sanitize(markdown.parse(text), SANITIZE);
  for (const link of fragment.querySelectorAll("a")) {
    if (safeLink(link.getAttribute("href"))) {
      link.target = "_blank";
      link.rel = "noopener noreferrer";
    } else {
      link.removeAttribute("href");
    }
  }
  for (const table of fragment.querySelectorAll("table")) {
    const wrapper = element("div", "table");
    table.replaceWith(wrapper);
    wrapper.appendChild(table);
  }
  fragment.querySelectorAll("pre").forEach(codeBlock);
  node.replaceChildren(fragment);
}

// Copy buttons are redrawn with the answer, so one listener on the transcript serves them all.
$("transcript").addEventListener("click", async (event) => {
  const button = event.target.closest("button.copy");
  if (!button) return;
  const code = button.closest(".code").querySelector("pre").textContent;
  try {
    await navigator.clipboard.writeText(code);
    button.textContent = "Copied";
  } catch (_) {
    button.textContent = "Copy failed";
  }
  setTimeout(() => { button.textContent = "Copy"; }, 1500);
});

// --- A message's element and its parts. ------------------------------------------------------------------
const views = new WeakMap();

function viewOf(message) {
  let view = views.get(message);
  if (view) return view;
  const root = element("div", "msg " + message.role);
  if (message.role === "user") {
    view = { root, text: element("div", "text") };
    root.appendChild(view.text);
  } else {
    const reasoning = element("details", "reasoning");
    reasoning.appendChild(element("summary", "", "Reasoning"));
    view = {
      root,
      warnings: element("div", "warnings"),
      reasoning,
      reasoningText: element("div", "reasoning-text"),
      tools: element("div", "tools"),
      text: element("div", "text markdown"),
      shownText: null,
      meta: element("div", "meta"),
      error: element("div", "error"),
    };
    reasoning.appendChild(view.reasoningText);
    root.append(view.warnings, reasoning, view.tools, view.text, view.meta, view.error);
  }
  $("transcript").appendChild(root);
  views.set(message, view);
  return view;
}

function toolCard(tool) {
  // Every tool the agent calls (its own or an MCP server's) shows the same way: name, arguments, result.
  const card = element("div", "tool");
  card.dataset.toolName = tool.name;
  card.dataset.status = tool.status || "running";
  card.appendChild(element("div", "tool-call", "tool " + tool.name + "(" + JSON.stringify(tool.input) + ")"));
  const result = tool.status ? "→ " + tool.status + ": " + tool.content : "… running";
  card.appendChild(element("div", "tool-result", result));
  return card;
}

function warningNotice(text) {
  const notice = element("div", "warning", text);
  notice.setAttribute("role", "status");
  return notice;
}

function render(message) {
  const transcript = $("transcript");
  const following = transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 40;
  const view = viewOf(message);
  view.root.dataset.state = message.state;
  // Assistive technology reads an answer once it has ended, not at every redraw.
  view.root.setAttribute("aria-busy", String(message.state === "streaming"));
  if (message.role === "user") {
    view.text.textContent = message.text;
  } else {
    view.warnings.replaceChildren(...(message.warnings || []).map(warningNotice));
    view.reasoning.hidden = !message.reasoning;
    view.reasoningText.textContent = message.reasoning || "";
    view.tools.replaceChildren(...(message.tools || []).map(toolCard));
    if (view.shownText !== message.text) {
      renderMarkdown(view.text, message.text);
      view.shownText = message.text;
    }
    view.meta.textContent = message.meta || "";
    view.error.textContent = message.error || "";
  }
  // Keep the newest text in sight, unless the reader has scrolled up.
  if (following) transcript.scrollTop = transcript.scrollHeight;
}

// While an answer streams, its events are drawn at most once a frame: parsing the whole answer again for
// every piece of text would cost more than the text is worth.
const pending = new Set();
let frame = null;

function renderSoon(message) {
  pending.add(message);
  frame = frame || requestAnimationFrame(() => {
    frame = null;
    const messages = [...pending];
    pending.clear();
    messages.forEach(render);
  });
}

function removeView(message) {
  pending.delete(message);
  const view = views.get(message);
  if (view) view.root.remove();
}

function clearViews() {
  pending.clear();
  $("transcript").replaceChildren();
}
