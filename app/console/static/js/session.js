// The bearer token lives in sessionStorage only (never in a URL); the workspace picker
// lists the workspaces the token grants. The token is not verified here (the API does
// that on every call); its claims only shape the UI.

const TOKEN = "contacts.token";
const WORKSPACE = "contacts.workspace";
const MESSAGE = "contacts.signinMessage";
let expiryTimer = 0;

export function claims(token) {
  const parts = String(token || "").trim().split(".");
  if (parts.length !== 3) throw new Error("That is not a JWT (three dot-separated parts).");
  try {
    const b64 = parts[1].replace(/-/g, "+").replace(/_/g, "/");
    const json = decodeURIComponent(
      Array.from(atob(b64), (c) => "%" + c.charCodeAt(0).toString(16).padStart(2, "0")).join(""),
    );
    return JSON.parse(json);
  } catch {
    throw new Error("The token's payload could not be read.");
  }
}

export function isExpired(payload) {
  return typeof payload.exp === "number" && payload.exp * 1000 <= Date.now();
}

export const session = {
  get token() {
    return sessionStorage.getItem(TOKEN);
  },
  get claims() {
    const token = this.token;
    return token ? claims(token) : null;
  },
  get workspaces() {
    const payload = this.claims;
    return Array.isArray(payload?.workspaces) ? payload.workspaces.map(String) : [];
  },
  get scopes() {
    return String(this.claims?.scope || "").split(/\s+/).filter(Boolean);
  },
  get workspace() {
    const chosen = sessionStorage.getItem(WORKSPACE);
    const granted = this.workspaces;
    return granted.includes(chosen) ? chosen : granted[0] || null;
  },
  set workspace(value) {
    sessionStorage.setItem(WORKSPACE, value);
  },
  signIn(token) {
    const payload = claims(token);
    if (isExpired(payload)) throw new Error("This token has expired. Mint or paste a new one.");
    if (!Array.isArray(payload.workspaces) || payload.workspaces.length === 0) {
      throw new Error("This token grants no workspace.");
    }
    sessionStorage.setItem(TOKEN, token.trim());
    sessionStorage.removeItem(MESSAGE);
    this.watchExpiry();
  },
  signOut(message) {
    sessionStorage.removeItem(TOKEN);
    sessionStorage.removeItem(WORKSPACE);
    clearTimeout(expiryTimer);
    if (message) sessionStorage.setItem(MESSAGE, message);
    else sessionStorage.removeItem(MESSAGE);
    if (location.hash !== "#/signin") location.hash = "#/signin";
    else window.dispatchEvent(new HashChangeEvent("hashchange"));
  },
  takeMessage() {
    const message = sessionStorage.getItem(MESSAGE);
    sessionStorage.removeItem(MESSAGE);
    return message;
  },
  // Back to sign-in the moment the token expires, not at the next failed call.
  watchExpiry() {
    clearTimeout(expiryTimer);
    const exp = this.claims?.exp;
    if (typeof exp !== "number") return;
    const ms = exp * 1000 - Date.now();
    if (ms <= 0) this.signOut("Your token has expired. Sign in again with a new one.");
    else if (ms < 2 ** 31) {
      expiryTimer = setTimeout(
        () => this.signOut("Your token has expired. Sign in again with a new one."),
        ms,
      );
    }
  },
};
