// The event log panel, in the style of the recorded browser session: ▲ sent / ▼ received, the time, the event
// name, expandable JSON. Deltas of one stream (same event and item) fold into one row with a count, even
// when two streams interleave (audio and transcript deltas); secrets are masked
// before anything is kept; the list is capped; rows can be filtered by kind and name.
import { h, stickToBottom } from "./dom.js";
import { formatClock } from "./format.js";
import { maskDeep, maskText } from "./mask.js";

const KIND_LABEL = { team: "team", voice: "voice", realtime: "rt", http: "http", connection: "ws" };
const MAX_JSON_CHARS = 20000;
const MAX_JOINED_CHARS = 4000;
const FOLD_WINDOW = 16; // a delta folds into a row of the same stream among the latest rows

function streamKey(data) {
  return String(data?.item_id ?? data?.response_id ?? "");
}

function collapsible(name) {
  return /\.delta$/.test(name) || name === "input_audio_buffer.append";
}

export class EventLog {
  /**
   * @param {HTMLOListElement} list
   * @param {{filter?: HTMLSelectElement, search?: HTMLInputElement, clear?: HTMLButtonElement, count?: HTMLElement, max?: number}} controls
   */
  constructor(list, controls = {}) {
    this.list = list;
    this.controls = controls;
    this.max = controls.max ?? 500;
    this.total = 0;
    this.recent = [];
    this.rows = new WeakMap();
    this.query = "";
    this.follow = stickToBottom(list);
    controls.filter?.addEventListener("change", () => { this.list.dataset.filter = controls.filter.value; this.follow(); });
    controls.search?.addEventListener("input", () => {
      this.query = controls.search.value.trim().toLowerCase();
      for (const row of this.list.children) this.applySearch(row);
    });
    controls.clear?.addEventListener("click", () => this.clear());
    this.list.dataset.filter = controls.filter?.value ?? "all";
  }

  /**
   * @param {"sent"|"received"} dir
   * @param {string} name  event name (type)
   * @param {object} data  the event (masked here, before it is kept)
   * @param {"team"|"voice"|"realtime"|"http"|"connection"} kind
   */
  add(dir, name, data, kind, isError = false, time = new Date()) {
    this.total += 1;
    if (this.controls.count) this.controls.count.textContent = this.total > 999 ? "999+" : String(this.total);
    const safeName = maskText(String(name ?? "?"));
    const safeData = maskDeep(data ?? {});
    const stream = streamKey(safeData);
    const fold = collapsible(safeName) && this.recent.findLast((e) => e.name === safeName && e.dir === dir &&
      e.kind === kind && e.stream === stream && e.row.isConnected);
    if (fold) {
      fold.count += 1;
      fold.data = safeData;
      if (typeof safeData.delta === "string" && fold.joined.length < MAX_JOINED_CHARS) fold.joined += safeData.delta;
      fold.countEl.textContent = `×${fold.count}`;
      fold.countEl.hidden = false;
      fold.countEl.setAttribute("aria-label", `${fold.count} events`);
      fold.timeEl.textContent = formatClock(time);
      if (fold.details.open) this.renderBody(fold);
      this.follow();
      return;
    }
    const countEl = h("span", { class: "log-count", hidden: true });
    const timeEl = h("time", { class: "log-time", dateTime: time.toISOString(), text: formatClock(time) });
    const details = h("details", {},
      h("summary", {},
        h("span", { class: `dir ${dir}`, text: dir === "sent" ? "▲" : "▼", attrs: { "aria-label": dir } }),
        h("span", { class: "log-name" }, h("span", { class: "log-kind", text: KIND_LABEL[kind] ?? kind }), safeName),
        countEl, timeEl));
    const dataset = { kind, dir, error: String(Boolean(isError)), name: safeName.toLowerCase() };
    const row = h("li", { class: "log-row", dataset }, details);
    const entry = { row, details, name: safeName, dir, kind, stream, count: 1, data: safeData, countEl, timeEl,
      joined: typeof safeData.delta === "string" ? safeData.delta : "" };
    this.rows.set(row, entry);
    details.addEventListener("toggle", () => { if (details.open) this.renderBody(entry); });
    this.recent.push(entry);
    if (this.recent.length > FOLD_WINDOW) this.recent.shift();
    this.applySearch(row);
    this.list.append(row);
    while (this.list.children.length > this.max) this.list.firstElementChild.remove();
    this.follow();
  }

  renderBody(entry) {
    entry.details.querySelectorAll(".log-joined, pre").forEach((el) => el.remove());
    let json = JSON.stringify(entry.data, null, 2) ?? "";
    if (json.length > MAX_JSON_CHARS) {
      json = `${json.slice(0, MAX_JSON_CHARS)}\n… (${(json.length - MAX_JSON_CHARS).toLocaleString()} more characters)`;
    }
    if (entry.count > 1 && entry.joined) {
      entry.details.append(h("p", { class: "log-joined" }, `${entry.count} deltas joined: “${entry.joined}”`));
    }
    entry.details.append(h("pre", { text: entry.count > 1 ? `// last of ${entry.count}\n${json}` : json }));
  }

  applySearch(row) {
    row.classList.toggle("search-miss", Boolean(this.query) && !row.dataset.name.includes(this.query));
  }

  clear() {
    this.list.replaceChildren();
    this.recent = [];
    this.total = 0;
    if (this.controls.count) this.controls.count.textContent = "0";
  }
}
