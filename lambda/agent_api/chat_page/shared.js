"use strict";
/* exported $, state, apiUrl, pageUrl, readJson, showNotice */
// The agent API's chat page (docs/agent-api.md, "The chat page"). Its scripts are classic scripts that the app
// inlines into the page in the order index.html names them (shared.js, sign_in.js, render.js, chat.js), so
// they share one global scope: each says what it defines for the others (`exported`) and what it uses from
// them (`global`). Nothing comes from another origin; the libraries (marked, DOMPurify) are inlined too.

const $ = (id) => document.getElementById(id);

// The page is served at the API's root, which has two addresses: API Gateway sends both ".../v1/" and
// ".../v1" (no final slash) to the root resource. A request relative to ".../v1" would lose the stage
// ("chat" would be ".../chat"), so every request is made relative to the root *with* its final slash, and
// that address is the page's one URL (the one Cognito sends the browser back to).
const ROOT = new URL(location.pathname.endsWith("/") ? location.pathname : location.pathname + "/", location.origin);

function apiUrl(path) {
  return new URL(path, ROOT).href;
}

function pageUrl() {
  return ROOT.href;
}

// What the page knows: its configuration (config.json), the access token (under Cognito), and the turn under
// way (an AbortController, so that Stop can end it).
const state = { config: null, accessToken: null, turn: null };

function readJson(storage, key) {
  try {
    return JSON.parse(storage.getItem(key) || "null");
  } catch (_) {
    return null;
  }
}

function showNotice(text) {
  $("notice").textContent = text;
  $("notice").classList.toggle("on", Boolean(text));
}
