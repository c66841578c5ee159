// The final answer card: formatted text (escaped, links made clickable), its sources, and the run's numbers.
import { h } from "./dom.js";
import { extractLinks, formatDuration, link, plural, renderRichText, safeUrl, stripTerminate } from "./format.js";
import { maskText } from "./mask.js";

const STOP_NOTES = {
  completed: "",
  max_messages: "The team reached its message limit before finishing; this is what it had.",
  timeout: "The run hit its time limit; this is what the team had by then.",
  cancelled: "The run was cancelled.",
  reset: "The session was reset during this run.",
  closed: "The session closed during this run.",
  error: "The run stopped on an error.",
  stopped: "The run was stopped.",
  interrupted: "The server stopped while this run was active.",
  budget: "The run spent its budget; this is what the team found.",
  no_progress: "The Manager stopped making progress; this is the best answer it had.",
};

/** The Manager's finish() sources (run_finished.sources), http(s) only; null when it gave none. */
function exactSources(sources) {
  if (!Array.isArray(sources) || !sources.length) return null;
  const safe = [...new Set(sources.map((s) => safeUrl(String(s))).filter(Boolean))];
  return safe.length ? safe : null;
}

export function renderAnswer(data) {
  const stop = data.stop_reason || "completed";
  const complete = Boolean(data.complete) && stop === "completed";
  const text = maskText(stripTerminate(data.final_answer || ""));
  const title = complete ? "Answer" : text ? "Partial answer" : "No answer";
  const copy = h("button", { type: "button", class: "btn ghost small", text: "Copy", attrs: { "aria-label": "Copy the answer" } });
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text);
      copy.textContent = "Copied";
    } catch {
      copy.textContent = "Copy failed";
    }
    setTimeout(() => { copy.textContent = "Copy"; }, 1600);
  });
  const note = [STOP_NOTES[stop] ?? `Stopped: ${stop}.`, data.error ? maskText(String(data.error)) : ""].filter(Boolean).join(" ");
  const entries = checkedSources(data.source_entries);
  const links = entries ? [] : exactSources(data.sources) ?? extractLinks(text);
  return h("section", { class: "answer", dataset: { complete: String(complete) }, attrs: { "aria-label": title } },
    h("div", { class: "answer-head" }, h("h3", { class: "answer-title", text: title }), text ? copy : null),
    note && !complete ? h("p", { class: "answer-note", text: note }) : null,
    text ? h("div", { class: "answer-body" }, renderRichText(text)) : null,
    links.length ? h("div", { class: "sources" }, h("h3", { text: links.length === 1 ? "Source" : "Sources" }),
      h("ol", {}, links.map((href) => h("li", {}, sourceLink(href))))) : null,
    entries ? renderChecked(entries) : null,
    h("p", { class: "answer-meta", text: meta(data) }),
  );
}

/** run_finished.source_entries (servers that check sources): each source, whether the team read it, and the
 * passage it read; null when absent or empty (then `sources` is shown as before). */
function checkedSources(entries) {
  return Array.isArray(entries) && entries.length ? entries.filter((e) => e && typeof e.url === "string") : null;
}

function renderChecked(entries) {
  const unread = entries.filter((e) => !e.verified).length;
  return h("div", { class: "sources", dataset: { checked: "true" } },
    h("h3", { text: entries.length === 1 ? "Source" : "Sources" }),
    unread ? h("p", { class: "sources-warning", text: unread === entries.length
      ? "The team did not read any of these sources in this run: check them before relying on the answer."
      : `${plural(unread, "source")} marked unverified: no tool of this run returned ${unread === 1 ? "it" : "them"}.` }) : null,
    h("ol", {}, entries.map((entry) => {
      const href = safeUrl(entry.url);
      const label = href ? sourceLink(href) : h("span", { class: "host", text: maskText(entry.url) });
      const badge = entry.verified
        ? h("span", { class: "badge verified", text: "read", attrs: { title: "A tool of this run returned this source" } })
        : h("span", { class: "badge unverified", text: "unverified", attrs: { title: "No tool of this run returned this source" } });
      return h("li", { dataset: { verified: String(Boolean(entry.verified)) } },
        h("div", { class: "source-line" }, label, badge),
        entry.title ? h("div", { class: "source-title", text: maskText(String(entry.title)) }) : null,
        entry.quote ? h("blockquote", { class: "source-quote", text: maskText(String(entry.quote)) }) : null);
    })));
}

function sourceLink(href) {
  const url = new URL(href);
  const path = (url.pathname + url.search).replace(/\/$/, "");
  const a = link(href, "");
  a.append(h("span", { class: "host", text: url.host.replace(/^www\./, "") }),
    path ? h("span", { class: "path", text: path.length > 60 ? `${path.slice(0, 59)}…` : path }) : null);
  return a;
}

function meta(data) {
  const parts = [];
  if (Number.isFinite(data.duration_s)) {
    parts.push(`${data.stop_reason === "completed" ? "Finished" : "Ran"} in ${formatDuration(data.duration_s)}`);
  }
  const usage = data.usage || {};
  if (usage.model_calls) parts.push(plural(usage.model_calls, "model call"));
  const tokens = (usage.prompt_tokens || 0) + (usage.completion_tokens || 0);
  if (tokens) parts.push(`${tokens.toLocaleString()} tokens`);
  return parts.join(" · ");
}
