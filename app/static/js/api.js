// REST calls and WebSocket addresses, with the optional access token (APP_TOKEN) added to both.
import { registerSecret } from "./mask.js";

const TOKEN_KEY = "research-team.token";

export class ApiError extends Error {
  constructor(status, message, body = null) {
    super(message);
    this.status = status; // 0: the server could not be reached
    this.body = body;
  }
  get unreachable() { return this.status === 0; }
  get unauthorized() { return this.status === 401; }
}

export class Api {
  /** @param {{onRequest?: Function, onResponse?: Function}} hooks  event-log hooks */
  constructor(hooks = {}) {
    this.hooks = hooks;
    this.token = localStorage.getItem(TOKEN_KEY) || sessionStorage.getItem(TOKEN_KEY) || null;
    registerSecret(this.token);
  }

  setToken(token, remember) {
    this.token = token || null;
    registerSecret(this.token);
    localStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(TOKEN_KEY);
    if (this.token) (remember ? localStorage : sessionStorage).setItem(TOKEN_KEY, this.token);
  }

  async get(path, { timeoutMs = 10000, log = true } = {}) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    const headers = { Accept: "application/json" };
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    if (log) this.hooks.onRequest?.("GET", path);
    let response;
    try {
      response = await fetch(path, { headers, signal: controller.signal, cache: "no-store" });
    } catch (err) {
      const message = err.name === "AbortError" ? "The server did not answer in time." : "The server could not be reached.";
      const error = new ApiError(0, message);
      if (log) this.hooks.onResponse?.("GET", path, 0, { error: error.message });
      throw error;
    } finally {
      clearTimeout(timer);
    }
    let body = null;
    try { body = await response.json(); } catch { body = null; }
    if (log) this.hooks.onResponse?.("GET", path, response.status, body);
    if (!response.ok) {
      const detail = body && typeof body.detail === "string" ? body.detail : `HTTP ${response.status}`;
      throw new ApiError(response.status, detail, body);
    }
    return body;
  }

  health() { return this.get("/health", { timeoutMs: 5000 }); }
  runs(limit = 20, offset = 0) { return this.get(`/runs?limit=${limit}&offset=${offset}`); }
  run(id) { return this.get(`/runs/${encodeURIComponent(id)}`); }
  runEvents(id) { return this.get(`/runs/${encodeURIComponent(id)}/events?limit=5000`); }

  /** ws(s)://this-host/path?params (+ token). */
  wsUrl(path, params = {}) {
    const url = new URL(path, window.location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    for (const [key, value] of Object.entries(params)) {
      if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, String(value));
    }
    if (this.token) url.searchParams.set("token", this.token);
    return url.href;
  }
}
