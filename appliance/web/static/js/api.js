// The appliance's JSON API: same-origin fetch with the session cookie and the CSRF header.

const CSRF_KEY = "byre.csrf";
let csrfToken = sessionStorage.getItem(CSRF_KEY) || "";
let onUnauthorized = () => {};

export class ApiError extends Error {
  constructor(status, message, field) {
    super(message);
    this.status = status;
    this.field = field;
  }
}

export function setCsrfToken(token) {
  csrfToken = token || "";
  if (csrfToken) sessionStorage.setItem(CSRF_KEY, csrfToken);
  else sessionStorage.removeItem(CSRF_KEY);
}

/** Called when a request answers 401 (the session is gone): the app shows sign-in. */
export function whenUnauthorized(callback) {
  onUnauthorized = callback;
}

export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && method !== "HEAD") headers["X-CSRF-Token"] = csrfToken;
  const reply = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
    cache: "no-store",
  });
  const isJson = (reply.headers.get("Content-Type") || "").includes("json");
  const data = isJson ? await reply.json().catch(() => null) : null;
  if (reply.status === 401 && !path.startsWith("/api/v1/auth/")) onUnauthorized();
  if (!reply.ok) {
    const message = (data && (data.error || data.detail)) || reply.statusText || String(reply.status);
    throw new ApiError(reply.status, typeof message === "string" ? message : JSON.stringify(message), data?.field);
  }
  return data;
}

export const get = (path) => api("GET", path);
export const post = (path, body = {}) => api("POST", path, body);
export const put = (path, body) => api("PUT", path, body);
export const patch = (path, body) => api("PATCH", path, body);
export const del = (path) => api("DELETE", path);
