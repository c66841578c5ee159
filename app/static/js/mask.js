// Secrets never reach the screen: API keys (sk-...), ephemeral keys (ek_...), Bearer tokens, client_secret
// values, tokens in URLs, and any secret this page knows (the APP_TOKEN typed by the person) are masked.
// The server masks too; this is the page's own second line.

const MASK = "••••••";
const PATTERNS = [
  [/\b(sk-(?:proj-|svcacct-|admin-|ant-)?)[A-Za-z0-9_-]{6,}/g, `$1${MASK}`],
  [/\b(ek_)[A-Za-z0-9_-]{6,}/g, `$1${MASK}`],
  [/\b(AIza)[0-9A-Za-z_-]{20,}/g, `$1${MASK}`],
  [/\b(Bearer\s+)[A-Za-z0-9._~+/=-]{4,}/gi, `$1${MASK}`],
  [/([?&#](?:token|api_key|apikey|key|client_secret|access_token)=)[^&#\s"']+/gi, `$1${MASK}`],
  [/("(?:client_secret|api_key|apikey|authorization|access_token|app_token|password|secret)"\s*:\s*")[^"]*(")/gi, `$1${MASK}$2`],
];
const SECRET_KEYS = new Set(["client_secret", "api_key", "apikey", "authorization", "access_token", "app_token",
  "password", "secret", "token", "openai_api_key", "x-api-key"]);
const known = new Set();

/** Mask this exact value wherever it appears from now on (e.g. the access token the person typed). */
export function registerSecret(value) {
  if (typeof value === "string" && value.length >= 4) known.add(value);
}

export function maskText(text) {
  if (typeof text !== "string" || text === "") return text;
  let out = text;
  for (const secret of known) if (out.includes(secret)) out = out.split(secret).join(MASK);
  for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

/** A masked deep copy: strings masked, values under secret-looking keys replaced entirely. */
export function maskDeep(value, depth = 0) {
  if (depth > 40) return "…";
  if (typeof value === "string") return maskText(value);
  if (Array.isArray(value)) return value.map((v) => maskDeep(v, depth + 1));
  if (value && typeof value === "object") {
    const out = {};
    for (const [key, v] of Object.entries(value)) {
      const lower = key.toLowerCase();
      if (SECRET_KEYS.has(lower) && v !== null && v !== undefined && v !== "") {
        out[key] = typeof v === "object" && !Array.isArray(v) ? maskSecretObject(v, depth + 1) : MASK;
      } else {
        out[key] = maskDeep(v, depth + 1);
      }
    }
    return out;
  }
  return value;
}

// {"client_secret": {"value": "ek_...", "expires_at": 1759279012}}: hide the value, keep the expiry.
function maskSecretObject(obj, depth) {
  const out = maskDeep(obj, depth);
  if ("value" in out && out.value !== null) out.value = MASK;
  return out;
}

export const MASKED = MASK;
