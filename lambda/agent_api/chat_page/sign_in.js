"use strict";
/* global $, state, pageUrl, readJson, showNotice, forgetConversation */
/* exported authHeaders, signInEnabled, savedToken, signIn, resumeSignIn, signInAgain, signOut, showAccount,
   restoreDraft */
// Authentication, as config.auth says. "none" (the local stack) sends no credentials. "iam": the API takes
// SigV4-signed requests only, which a browser cannot make, so the page says how else to reach the agent
// (chat.js). "cognito": the page signs in with the user pool's managed login (authorization code grant with
// PKCE) and sends the access token as a bearer token. Cognito's endpoints as its developer guide documents
// them (pages authorization-endpoint, token-endpoint and logout-endpoint):
// - GET <domain>/oauth2/authorize?response_type=code&client_id&redirect_uri&scope&state&code_challenge
//   &code_challenge_method=S256 shows managed login, then redirects to redirect_uri (one of the client's
//   callback URLs) with ?code=...&state=... (or ?error=...&error_description=...&state=...).
// - POST <domain>/oauth2/token, form-encoded grant_type=authorization_code, client_id, code, redirect_uri
//   (the same) and code_verifier, answers {"access_token", "id_token", "refresh_token", "expires_in",
//   "token_type": "Bearer"}, or a 400 {"error": "invalid_grant", ...}. It sends
//   "Access-Control-Allow-Origin: *", so this page may call it from its own origin; a form-encoded POST
//   with no other header is a CORS simple request (no preflight).
// - GET <domain>/logout?client_id&logout_uri ends the managed-login session and redirects to logout_uri,
//   one of the client's sign-out URLs.
// The callback and sign-out URL is the page's one URL, pageUrl() (AgentApi.page_url in the stack).

// Kept in sessionStorage (this tab only, gone when it closes): the access token and when it expires, the
// PKCE verifier and state of a sign-in under way, and a prompt to put back after signing in.
const AUTH_KEY = "agent-chat.auth";
const SIGN_IN_KEY = "agent-chat.sign-in";
const DRAFT_KEY = "agent-chat.draft";

function authHeaders() {
  return state.accessToken ? { authorization: "Bearer " + state.accessToken } : {};
}

function signInEnabled() {
  return state.config !== null && state.config.auth === "cognito";
}

function base64url(bytes) {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomText() {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

function savedToken() {
  const saved = readJson(sessionStorage, AUTH_KEY);
  if (saved && typeof saved.token === "string" && saved.expires_at > Date.now()) return saved.token;
  sessionStorage.removeItem(AUTH_KEY);
  return null;
}

async function signIn() {
  // Whatever is typed comes back after the round trip through managed login.
  if ($("prompt").value) sessionStorage.setItem(DRAFT_KEY, $("prompt").value);
  const cognito = state.config.cognito;
  const signInState = randomText();
  const verifier = randomText();
  const challenge = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  sessionStorage.setItem(SIGN_IN_KEY, JSON.stringify({ state: signInState, verifier }));
  const query = new URLSearchParams({
    response_type: "code",
    client_id: cognito.client_id,
    redirect_uri: pageUrl(),
    scope: cognito.scope,
    state: signInState,
    code_challenge: base64url(new Uint8Array(challenge)),
    code_challenge_method: "S256",
  });
  location.assign(cognito.domain + "/oauth2/authorize?" + query);
}

// Turns the callback's code into an access token; throws, keeping no token, when anything does not match.
async function finishSignIn(params) {
  const pending = readJson(sessionStorage, SIGN_IN_KEY);
  sessionStorage.removeItem(SIGN_IN_KEY);
  history.replaceState(null, "", pageUrl());
  if (!pending || typeof pending.verifier !== "string" || !params.get("state") ||
      params.get("state") !== pending.state) {
    throw new Error("the answer does not belong to a sign-in this page started (its state does not match)");
  }
  if (params.has("error")) {
    const description = params.get("error_description");
    throw new Error(params.get("error") + (description ? ": " + description : ""));
  }
  const cognito = state.config.cognito;
  const response = await fetch(cognito.domain + "/oauth2/token", {
    method: "POST",
    body: new URLSearchParams({
      grant_type: "authorization_code",
      client_id: cognito.client_id,
      code: params.get("code") || "",
      redirect_uri: pageUrl(),
      code_verifier: pending.verifier,
    }),
  });
  let body = null;
  try {
    body = await response.json();
  } catch (_) { /* not JSON: the status says enough */ }
  if (!response.ok || !body || typeof body.access_token !== "string") {
    const why = body && body.error ? body.error : "HTTP " + response.status;
    throw new Error("the sign-in service refused the code (" + why + ")");
  }
  const lifetime = Number(body.expires_in) > 0 ? Number(body.expires_in) : 3600;
  const saved = { token: body.access_token, expires_at: Date.now() + lifetime * 1000 };
  sessionStorage.setItem(AUTH_KEY, JSON.stringify(saved));
  state.accessToken = body.access_token;
}

// At start: finishes the sign-in whose callback this page load is, if any, then takes the token kept for this
// tab. Returns why the sign-in failed, or null.
async function resumeSignIn() {
  let failure = null;
  const params = new URLSearchParams(location.search);
  if (params.has("code") || params.has("error")) {
    try {
      await finishSignIn(params);
    } catch (error) {
      failure = error.message;
    }
  }
  state.accessToken = savedToken();
  return failure;
}

// A refused or expired token: back to managed login, the prompt kept as the draft.
async function signInAgain(prompt) {
  sessionStorage.removeItem(AUTH_KEY);
  state.accessToken = null;
  $("prompt").value = prompt;
  showNotice("Your sign-in has expired; signing in again…");
  await signIn();
}

function signOut() {
  sessionStorage.removeItem(AUTH_KEY);
  state.accessToken = null;
  // The conversation belongs to the user who signs out: the next one starts afresh.
  forgetConversation();
  const query = new URLSearchParams({ client_id: state.config.cognito.client_id, logout_uri: pageUrl() });
  location.assign(state.config.cognito.domain + "/logout?" + query);
}

function showAccount() {
  $("sign-in").hidden = !signInEnabled() || state.accessToken !== null;
  $("sign-out").hidden = !signInEnabled() || state.accessToken === null;
}

// A draft kept across a sign-in goes back into the composer once.
function restoreDraft() {
  const draft = sessionStorage.getItem(DRAFT_KEY);
  if (draft !== null) {
    $("prompt").value = draft;
    sessionStorage.removeItem(DRAFT_KEY);
  }
}
