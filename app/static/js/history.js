// Past runs from GET /runs, each openable to its events and answer.
import { el } from "./util.js";

function withToken(path) {
  const token = new URLSearchParams(location.search).get("token");
  return token ? `${path}${path.includes("?") ? "&" : "?"}token=${encodeURIComponent(token)}` : path;
}

export async function fetchJson(path) {
  const response = await fetch(withToken(path));
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

export class History {
  constructor(list, timeline) {
    this.list = list;
    this.timeline = timeline;
  }

  async refresh() {
    try {
      const { runs } = await fetchJson("/runs?limit=30");
      this.list.replaceChildren(...runs.map((run) => el("li", {}, el("button", {
        type: "button", "aria-label": `Open the run: ${run.task}`, onclick: () => this.open(run.run_id),
      }, el("span", { class: "task" }, run.task), el("span", { class: "meta" }, run.status)))));
      if (!runs.length) this.list.replaceChildren(el("li", { class: "meta" }, "No runs yet."));
    } catch (error) {
      this.list.replaceChildren(el("li", { class: "meta" }, `Could not load past runs (${error.message}).`));
    }
  }

  async open(runId) {
    const { events } = await fetchJson(`/runs/${encodeURIComponent(runId)}/events`);
    for (const event of events) this.timeline.handle(event);
  }
}
