// Turning text from the team into safe, readable DOM: paragraphs, lists, headings, code, and links
// (http/https only). Everything is built from text nodes; nothing is ever parsed as HTML.
import { h } from "./dom.js";

const INLINE = /\[([^\]\n]{1,300})\]\((https?:\/\/[^\s)<>]+)\)|(https?:\/\/[^\s<>"'`]+)|\*\*([^*\n]+)\*\*|`([^`\n]+)`/gi;
const TRAILING = /[.,;:!?'"»”’)\]]+$/;

/** The safe URL string, or null for anything but http(s). */
export function safeUrl(raw) {
  try {
    const url = new URL(raw);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

// "https://x.org/a)." -> ["https://x.org/a", ")."], keeping balanced parentheses inside the URL.
function splitTrailing(url) {
  let tail = "";
  let match;
  while ((match = url.match(TRAILING))) {
    const chunk = match[0];
    const last = chunk[chunk.length - 1];
    if (last === ")" && (url.split("(").length - 1) >= (url.split(")").length - 1) && chunk.length === 1) break;
    url = url.slice(0, -1);
    tail = last + tail;
  }
  return [url, tail];
}

function shortLabel(href) {
  try {
    const url = new URL(href);
    const rest = (url.pathname + url.search).replace(/\/$/, "");
    const label = url.host.replace(/^www\./, "") + rest;
    return label.length > 64 ? label.slice(0, 61) + "…" : label;
  } catch {
    return href;
  }
}

export function link(href, label) {
  return h("a", { href, target: "_blank", rel: "noopener noreferrer nofollow", title: href }, label ?? shortLabel(href));
}

/** Inline text -> nodes: markdown links, bare URLs, **bold**, `code`. */
export function renderInline(text) {
  const nodes = [];
  let last = 0;
  for (const m of text.matchAll(INLINE)) { // matchAll works on a copy: safe to recurse for **bold**
    if (m.index > last) nodes.push(text.slice(last, m.index));
    last = m.index + m[0].length;
    if (m[1] !== undefined) {
      const href = safeUrl(m[2]);
      nodes.push(href ? link(href, m[1]) : m[0]);
    } else if (m[3] !== undefined) {
      const [raw, tail] = splitTrailing(m[3]);
      const href = safeUrl(raw);
      nodes.push(href ? link(href) : raw);
      if (tail) nodes.push(tail);
    } else if (m[4] !== undefined) {
      nodes.push(h("strong", {}, renderInline(m[4])));
    } else {
      nodes.push(h("code", { text: m[5] }));
    }
  }
  if (last < text.length) nodes.push(text.slice(last));
  return nodes;
}

/** Multi-line text -> a <div class="rich"> of paragraphs, lists, headings and code blocks. */
export function renderRichText(text) {
  const root = h("div", { class: "rich" });
  const lines = String(text ?? "").replace(/\r\n?/g, "\n").split("\n");
  let para = null;
  let list = null;
  const endPara = () => { para = null; };
  const endList = () => { list = null; };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (/^\s*```/.test(line)) {
      endPara(); endList();
      const code = [];
      for (i++; i < lines.length && !/^\s*```/.test(lines[i]); i++) code.push(lines[i]);
      root.append(h("pre", {}, h("code", { text: code.join("\n") })));
      continue;
    }
    if (!line.trim()) { endPara(); endList(); continue; }
    const bullet = line.match(/^\s*[-*•]\s+(.*)$/);
    const numbered = line.match(/^\s*(\d{1,3})[.)]\s+(.*)$/);
    const heading = line.match(/^\s*(#{1,6})\s+(.*)$/);
    if (bullet || numbered) {
      endPara();
      const tag = bullet ? "ul" : "ol";
      if (!list || list.tagName.toLowerCase() !== tag) {
        list = h(tag);
        if (numbered && numbered[1] !== "1") list.start = Number(numbered[1]);
        root.append(list);
      }
      list.append(h("li", {}, renderInline(bullet ? bullet[1] : numbered[2])));
    } else if (heading) {
      endPara(); endList();
      root.append(h(heading[1].length <= 2 ? "h3" : "h4", {}, renderInline(heading[2])));
    } else {
      endList();
      if (para) para.append(h("br"));
      else { para = h("p"); root.append(para); }
      para.append(...renderInline(line.trim()).map((n) => (n instanceof Node ? n : document.createTextNode(n))));
    }
  }
  return root;
}

/** Unique http(s) links in a text, in order of appearance. */
export function extractLinks(text) {
  const seen = new Set();
  const out = [];
  for (const m of String(text ?? "").matchAll(INLINE)) {
    const raw = m[2] ?? (m[3] !== undefined ? splitTrailing(m[3])[0] : null);
    const href = raw && safeUrl(raw);
    if (href && !seen.has(href)) { seen.add(href); out.push(href); }
  }
  return out;
}

/** The Manager's closing word and its labels ("TASK:", "FINAL ANSWER:") are for the team, not for people
 * (app/core/steps.py does the same for the CLI and MCP). */
export function stripTerminate(text) {
  return String(text ?? "")
    .replace(/\s*\bTERMINATE\b\s*$/u, "")
    .replace(/^[ \t>*_]*(?:final\s+answer|task)[*_]*\s*:[*_]*[ \t]*/gimu, "")
    .trimEnd();
}

export function formatClock(date = new Date()) {
  return date.toLocaleTimeString(undefined, { hour: "numeric", minute: "2-digit", second: "2-digit" });
}

export function formatDuration(seconds) {
  if (!Number.isFinite(seconds)) return "";
  if (seconds < 10) return `${seconds.toFixed(seconds < 1 ? 2 : 1)} s`;
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds % 60);
  return `${m} min ${String(s).padStart(2, "0")} s`;
}

export function formatElapsed(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h_ = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h_ ? `${h_}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

export function timeAgo(iso, now = Date.now()) {
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return "";
  const s = Math.round((now - t) / 1000);
  if (s < 45) return "just now";
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return new Date(t).toLocaleDateString(undefined, { month: "short", day: "numeric" });
}

export function plural(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}

export function truncate(text, max) {
  const s = String(text ?? "");
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}
