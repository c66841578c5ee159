// The event log: ▲ sent / ▼ received, time, name, expandable JSON; deltas collapsed with a count;
// secrets masked; filter by kind; capped in size.
import { clock, el, mask } from "./util.js";

const MAX_ROWS = 400;

export class EventLog {
  constructor(list, filters) {
    this.list = list;
    this.last = null;
    this.kinds = new Set(["team", "realtime", "error"]);
    for (const box of filters.querySelectorAll("input")) {
      box.addEventListener("change", () => {
        box.checked ? this.kinds.add(box.value) : this.kinds.delete(box.value);
        for (const row of this.list.children) row.hidden = !this.kinds.has(row.dataset.kind);
      });
    }
  }

  add(direction, name, data, kind, time) {
    const isDelta = name.endsWith(".delta") || name === "input_audio_buffer.append";
    if (isDelta && this.last && this.last.dataset.name === name && this.last.dataset.dir === direction) {
      const count = this.last.querySelector(".count");
      count.textContent = `×${Number(count.textContent.slice(1) || 1) + 1}`;
      return;
    }
    const arrow = direction === "sent" ? "▲" : "▼";
    const row = el("li", { "data-kind": kind, "data-name": name, "data-dir": direction },
      el("details", {},
        el("summary", {}, el("span", { class: `dir ${direction}` }, arrow), el("span", {}, clock(time)),
           el("span", {}, name), el("span", { class: "count" }, isDelta ? "×1" : "")),
        el("pre", {}, mask(JSON.stringify(data, null, 2)))));
    row.hidden = !this.kinds.has(kind);
    this.list.append(row);
    this.last = row;
    while (this.list.children.length > MAX_ROWS) this.list.firstElementChild.remove();
    if (this.list.scrollHeight - this.list.scrollTop < this.list.clientHeight + 60) row.scrollIntoView({ block: "nearest" });
  }
}
