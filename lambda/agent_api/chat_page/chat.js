"use strict";
/* global $, state, apiUrl, pageUrl, readJson, showNotice, authHeaders, signInEnabled, savedToken, signIn,
   resumeSignIn, signInAgain, signOut, showAccount, restoreDraft, render, renderSoon, removeView, clearViews */
/* exported forgetConversation */
// Asking: POST chat, its server-sent events read from the fetch body as they arrive (docs/agent-api.md).
const CONFIG_PATH = "config.json";
const CHAT_PATH = "chat";
const WARM_PATH = "warm";
const STATUS_PATH = "status";
// How often the page checks a waking model (the agent API's own `status` events come every 10 s).
const STATUS_POLL_MS = 15000;
const WARMING_NOTICE = "The model is starting: it was scaled to zero while nobody used it. Your first " +
  "answer may take a few minutes.";
const IAM_NOTICE = "This API takes only IAM-signed (SigV4) requests, which a browser cannot send. Ask the " +
  "agent with the project's client, make ask PROMPT=\"...\" ENV=<environment>, or from the OpenAI SDK with " +
  "an HTTP client that signs with SigV4 (agent_client.openai_auth); the project's docs/agent-api.md " +
  "(\"Calling it\") shows both. An environment with api.auth: cognito serves this page with sign-in.";
const SESSION_KEY = "agent-chat.session";
const TRANSCRIPT_KEY = "agent-chat.transcript";

function canSend() {
  const config = state.config;
  return config !== null && (config.auth === "none" || (signInEnabled() && state.accessToken !== null));
}

// --- Session and transcript, kept in localStorage so that a reload continues the conversation. ---------
function sessionId() {
  if (!state.config.sessions) return null;
  let id = localStorage.getItem(SESSION_KEY);
  if (!id) {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    id = "web-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    localStorage.setItem(SESSION_KEY, id);
  }
  return id;
}

function loadTranscript() {
  const saved = readJson(localStorage, TRANSCRIPT_KEY);
  return Array.isArray(saved) ? saved.filter((message) => message && typeof message === "object") : [];
}

const transcript = loadTranscript();

function saveTranscript() {
  try {
    localStorage.setItem(TRANSCRIPT_KEY, JSON.stringify(transcript));
  } catch (error) {
    // The browser's storage is full: the conversation shows until the page closes, and says so.
    showNotice("This browser cannot keep the conversation for a reload (" + error.message + ").");
  }
}

function forgetConversation() {
  localStorage.removeItem(SESSION_KEY);
  transcript.length = 0;
  saveTranscript();
  clearViews();
}

function showSession() {
  const id = sessionId();
  $("session").textContent = id ? "session " + id : "no session (sessions are off)";
}

// --- The SSE stream of POST chat: "event: <name>" and one "data: <JSON>" line, then a blank line. --------
async function* readEvents(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) yield { name, data: JSON.parse(data.join("\n")) };
    }
  }
}

// Events this page does not know (a newer API's) are left out, not errors.
function apply(reply, event) {
  const data = event.data;
  switch (event.name) {
    case "reasoning":
      reply.reasoning = (reply.reasoning || "") + data.delta;
      break;
    case "text":
      showNotice("");
      reply.text += data.delta;
      break;
    case "tool_use":
      reply.tools.push({ id: data.id, name: data.name, input: data.input });
      break;
    case "tool_result": {
      const tool = reply.tools.find((t) => t.id === data.id);
      if (tool) Object.assign(tool, { status: data.status, content: data.content });
      break;
    }
    case "warning":
      // A tool source that could not be reached (`tool_source_unavailable`), or another problem the turn
      // went on without: a notice on this answer.
      reply.warnings.push(String(data.message || data.code));
      break;
    case "status":
      if (data.state === "warming") {
        showNotice("The model is waking up (" + data.elapsed_s + " s so far); the answer starts when it is ready.");
      } else if (data.state === "fallback") {
        // The model has no copy in service: a fallback answers at once while it wakes.
        reply.warnings.push("The model is starting: " + String(data.model) + " answers meanwhile.");
      }
      break;
    case "done":
      reply.state = "done";
      reply.meta = data.usage.input_tokens + " tokens in, " + data.usage.output_tokens + " out" +
        (data.stop_reason === "max_tokens" ? " (cut at the token limit)" : "") +
        (data.model ? " · " + String(data.model) : "");
      break;
    case "error":
      reply.state = "error";
      reply.error = data.code + ": " + data.message;
      break;
  }
}

async function refusal(response) {
  let detail = "HTTP " + response.status;
  try {
    const body = await response.json();
    if (body.code) detail = body.code + ": " + body.message;
    else if (body.message) detail += ": " + body.message;
  } catch (_) { /* not JSON: the status says enough */ }
  const retry = response.headers.get("Retry-After");
  return retry ? detail + " (retry in " + retry + " s)" : detail;
}

// Stop aborts the request: the agent API stops a turn whose client leaves (the model call is closed) and
// keeps nothing of it in the session.
function stopped(reply) {
  reply.state = "stopped";
  reply.meta = state.config.sessions
    ? "Stopped. The agent does not keep a stopped answer: your next prompt follows the one before."
    : "Stopped.";
}

async function send(prompt) {
  const user = { role: "user", state: "done", text: prompt };
  const reply = { role: "assistant", state: "streaming", text: "", reasoning: "", tools: [], warnings: [] };
  transcript.push(user, reply);
  render(user);
  render(reply);
  // Kept at once: a page closed while the answer streams shows the prompt again, and that it was cut.
  saveTranscript();
  const request = { prompt };
  const session = sessionId();
  if (session) request.session_id = session;
  const turn = new AbortController();
  state.turn = turn;
  let response = null;
  try {
    response = await fetch(apiUrl(CHAT_PATH), {
      method: "POST",
      headers: { "content-type": "application/json", ...authHeaders() },
      body: JSON.stringify(request),
      signal: turn.signal,
    });
    if (response.status === 401 && signInEnabled()) {
      // API Gateway's Cognito authorizer refused the token (it expired): the prompt was not answered.
      transcript.splice(transcript.indexOf(user), 2);
      removeView(user);
      removeView(reply);
      saveTranscript();
      await signInAgain(prompt);
      return;
    }
    if (!response.ok) {
      reply.state = "error";
      reply.error = await refusal(response);
    } else {
      for await (const event of readEvents(response.body)) {
        apply(reply, event);
        renderSoon(reply);
      }
      if (reply.state === "streaming") {
        reply.state = "error";
        reply.error = "the answer was cut off (the connection closed before it ended)";
      }
    }
  } catch (error) {
    if (turn.signal.aborted) {
      stopped(reply);
    } else {
      reply.state = "error";
      reply.error = (response ? "the answer was cut off: " : "could not reach the agent: ") + error.message;
    }
  } finally {
    state.turn = null;
  }
  showNotice("");
  render(reply);
  saveTranscript();
}

function stopTurn() {
  if (state.turn) state.turn.abort();
}

function setBusy(busy) {
  $("send").disabled = busy || !canSend();
  $("stop").hidden = !busy;
  $("new-chat").disabled = busy;
}

$("composer").addEventListener("submit", async (event) => {
  event.preventDefault();
  const prompt = $("prompt").value.trim();
  if (!prompt || state.turn || !canSend()) return;
  $("prompt").value = "";
  setBusy(true);
  try {
    if (signInEnabled() && savedToken() === null) {
      await signInAgain(prompt);
    } else {
      await send(prompt);
    }
  } finally {
    setBusy(false);
    $("prompt").focus();
  }
});

$("prompt").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    $("composer").requestSubmit();
  }
});

document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && !event.isComposing) stopTurn();
});

$("stop").addEventListener("click", stopTurn);

$("new-chat").addEventListener("click", () => {
  forgetConversation();
  showSession();
});

$("sign-in").addEventListener("click", () => signIn());
$("sign-out").addEventListener("click", () => signOut());

// A model scaled to zero takes minutes to start, so the page asks for it as soon as it opens (POST warm)
// and says so until a copy is in service (GET status). Anything but "warming" (in service, a classic
// endpoint, an error) shows nothing here: the first prompt reports its own problems.
async function warmModel() {
  let modelState = await askModelState(WARM_PATH, "POST");
  if (modelState !== "warming") return;
  showNotice(WARMING_NOTICE);
  while (modelState === "warming") {
    await new Promise((resolve) => setTimeout(resolve, STATUS_POLL_MS));
    modelState = await askModelState(STATUS_PATH, "GET");
  }
  if ($("notice").textContent === WARMING_NOTICE) showNotice("");
}

async function askModelState(path, method) {
  try {
    const response = await fetch(apiUrl(path), { method, headers: authHeaders() });
    if (!response.ok) return null;
    return (await response.json()).state;
  } catch (_) {
    return null;
  }
}

async function start() {
  // The page's one address is the root with its final slash (shared.js): show that one, query kept.
  if (location.origin + location.pathname !== pageUrl()) {
    history.replaceState(null, "", pageUrl() + location.search + location.hash);
  }
  try {
    const response = await fetch(apiUrl(CONFIG_PATH));
    if (!response.ok) throw new Error(await refusal(response));
    state.config = await response.json();
  } catch (error) {
    showNotice("Cannot load the page's configuration: " + error.message);
    return;
  }
  if (state.config.auth === "iam") {
    showNotice(IAM_NOTICE);
    return;
  }
  let signInError = null;
  if (signInEnabled()) {
    signInError = await resumeSignIn();
  } else if (state.config.auth !== "none") {
    showNotice("This page does not support the API's sign-in mode " + JSON.stringify(state.config.auth) + ".");
    state.config = null;
    return;
  }
  if (signInError !== null) {
    showNotice("Sign-in failed: " + signInError + ". Sign in again.");
  } else if (signInEnabled() && state.accessToken === null) {
    showNotice("Sign in to talk to the agent.");
  }
  restoreDraft();
  showAccount();
  for (const message of transcript) {
    if (message.state === "streaming") {
      message.state = "error";
      message.error = "the page was closed before the answer ended";
    }
    render(message);
  }
  showSession();
  setBusy(false);
  if (canSend()) await warmModel();
}

start();
