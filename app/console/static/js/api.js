// The one way the console calls the API: same origin, bearer token, the API's error shape.
import { session } from "./session.js";

export class ApiError extends Error {
  constructor(status, body) {
    const error = body?.error || {};
    super(error.message || `The API answered ${status}.`);
    this.status = status;
    this.code = error.code || "http_error";
    this.details = error.details || [];
  }

  describe() {
    const details = this.details.map((d) => (d.field ? `${d.field}: ${d.message}` : d.message));
    return [this.message, ...details].join(" ");
  }
}

export function url(path, query) {
  const target = new URL(path, location.origin);
  for (const [key, value] of Object.entries(query || {})) {
    if (value === null || value === undefined || value === "") continue;
    target.searchParams.set(key, String(value));
  }
  return target;
}

export async function request(method, path, options = {}) {
  const { body, form, query, headers = {}, signal } = options;
  const init = { method, signal, headers: { ...headers } };
  if (session.token) init.headers.Authorization = `Bearer ${session.token}`;
  if (form) init.body = form;
  else if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(url(path, query), init);
  if (response.status === 401) {
    const payload = await response.json().catch(() => null);
    const message = payload?.error?.message || "The token was refused.";
    session.signOut(`Signed out: ${message} Paste a valid token.`);
    throw new ApiError(401, payload);
  }
  return response;
}

export async function api(method, path, options = {}) {
  const response = await request(method, path, options);
  const payload = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, payload);
  return { status: response.status, etag: response.headers.get("ETag"), ...(payload || {}) };
}

// A file the API serves behind the bearer token: fetched, then saved through a blob: link.
export async function download(path, query, fallbackName) {
  const response = await request("GET", path, { query });
  if (!response.ok) {
    throw new ApiError(response.status, await response.json().catch(() => null));
  }
  const disposition = response.headers.get("Content-Disposition") || "";
  const name = /filename="?([^";]+)"?/.exec(disposition)?.[1] || fallbackName;
  const link = document.createElement("a");
  link.href = URL.createObjectURL(await response.blob());
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  return name;
}
