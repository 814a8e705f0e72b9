// The console's shell: header, workspace picker, flash messages and a fragment router.
import { h, clear, field } from "./dom.js";
import { session } from "./session.js";
import * as search from "./search.js";
import * as contact from "./contact.js";
import * as imports from "./imports.js";
import * as dnc from "./dnc.js";

const view = document.getElementById("view");
const top = document.getElementById("top");
const flashBox = document.getElementById("flash");
let cleanup = null;

export function flash(message, kind = "info") {
  clear(flashBox).append(h("p", { class: `flash ${kind}` }, message));
}

const ROUTES = [
  [/^#\/signin$/, () => signIn],
  [/^#\/contacts\/new$/, () => (el) => contact.render(el, { id: null, flash })],
  [/^#\/contacts\/([\w-]+)$/, (m) => (el) => contact.render(el, { id: m[1], flash })],
  [/^#\/import$/, () => (el) => imports.render(el, { flash })],
  [/^#\/dnc$/, () => (el) => dnc.render(el, { flash })],
  [/^#\/search$/, () => (el) => search.render(el, { flash })],
];

function route() {
  if (typeof cleanup === "function") cleanup();
  cleanup = null;
  const hash = location.hash || "#/search";
  if (!session.token && hash !== "#/signin") {
    location.hash = "#/signin";
    return;
  }
  renderHeader();
  clear(view);
  for (const [pattern, make] of ROUTES) {
    const match = pattern.exec(hash);
    if (match) {
      cleanup = make(match)(view);
      return;
    }
  }
  location.hash = "#/search";
}

function renderHeader() {
  clear(top);
  const nav = h("nav", { "aria-label": "Console" });
  top.append(h("a", { class: "brand", href: "#/search" }, "Contacts"), nav);
  if (!session.token) return;
  for (const [href, label] of [
    ["#/search", "Search"],
    ["#/contacts/new", "New contact"],
    ["#/import", "Import"],
    ["#/dnc", "Do-Not-Call"],
  ]) {
    const current = (location.hash || "#/search") === href ? "page" : null;
    nav.append(h("a", { href, "aria-current": current }, label));
  }
  nav.append(h("a", { href: "/docs", target: "_blank", rel: "noopener" }, "API docs"));
  const picker = h(
    "select",
    {
      id: "workspace",
      "aria-label": "Workspace",
      onchange: (event) => {
        session.workspace = event.target.value;
        flash(`Workspace ${event.target.value}`);
        route();
      },
    },
    session.workspaces.map((ws) => h("option", { value: ws, selected: ws === session.workspace }, ws)),
  );
  top.append(
    h("div", { class: "who" }, picker, h("button", { type: "button", id: "signout", onclick: () => session.signOut() }, "Sign out")),
  );
}

function signIn(el) {
  const message = session.takeMessage();
  const input = h("textarea", {
    id: "token",
    rows: 5,
    spellcheck: "false",
    autocomplete: "off",
    placeholder: "eyJhbGciOiJIUzI1NiIs...",
  });
  const error = h("p", { class: "error", id: "signin-error", role: "alert" }, message);
  const form = h(
    "form",
    {
      class: "card signin",
      onsubmit: (event) => {
        event.preventDefault();
        try {
          session.signIn(input.value);
          clear(flashBox);
          location.hash = "#/search";
        } catch (err) {
          error.textContent = err.message;
        }
      },
    },
    h("h1", null, "Sign in"),
    h(
      "p",
      null,
      "Paste a bearer token. It is kept in this tab only (sessionStorage). For development: ",
      h("code", null, ".venv/bin/contacts mint-token --workspace ws_demo"),
      " (make run prints one).",
    ),
    field("Bearer token", input),
    error,
    h("button", { type: "submit", class: "primary" }, "Sign in"),
  );
  el.append(form);
  input.focus();
}

document.addEventListener("keydown", (event) => {
  const typing = event.target.closest?.("input, textarea, select, [contenteditable]");
  if (event.key === "/" && !typing && !event.ctrlKey && !event.metaKey) {
    const box = document.getElementById("search");
    if (box) {
      event.preventDefault();
      box.focus();
      box.select();
    } else if (session.token) {
      event.preventDefault();
      location.hash = "#/search";
    }
  }
});

window.addEventListener("hashchange", route);
if (session.token) session.watchExpiry();
route();
