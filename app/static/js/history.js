// Run history: past runs from GET /runs, newest first; each opens (in a dialog) to its stored events, the
// timeline they make, and its answer.
import { h } from "./dom.js";
import { formatDuration, timeAgo, truncate } from "./format.js";
import { maskText } from "./mask.js";
import { formatUsd, Timeline } from "./timeline.js";

const PAGE = 20;
const STATUS = { completed: "Completed", running: "Running", paused: "Paused", cancelled: "Cancelled", error: "Error",
  timeout: "Timed out", max_messages: "Message limit", interrupted: "Interrupted", reset: "Reset", closed: "Closed", stopped: "Stopped" };

export class History {
  /**
   * @param {import("./api.js").Api} api
   * @param {{list, more, refresh, note, dialog, dialogTitle, dialogBody, dialogClose}} el
   */
  constructor(api, el) {
    this.api = api;
    this.el = el;
    this.offset = 0;
    this.loading = false;
    this.opener = null;
    this.viewer = null;
    el.refresh.addEventListener("click", () => this.load());
    el.more.addEventListener("click", () => this.load(false));
    el.dialogClose.addEventListener("click", () => el.dialog.close());
    el.dialog.addEventListener("close", () => {
      this.viewer?.destroy();
      this.viewer = null;
      this.opener?.focus();
    });
  }

  async load(reset = true) {
    if (this.loading) return;
    this.loading = true;
    const offset = reset ? 0 : this.offset;
    try {
      const body = await this.api.runs(PAGE, offset);
      const runs = Array.isArray(body?.runs) ? body.runs : [];
      if (reset) this.el.list.replaceChildren();
      for (const run of runs) this.el.list.append(this.item(run));
      this.offset = offset + runs.length;
      this.el.more.hidden = runs.length < PAGE;
      this.el.note.textContent = this.offset ? "Past runs on this server" : "No runs yet. Ask something!";
    } catch (err) {
      this.el.note.textContent = `Could not load the history: ${err.message}`;
    } finally {
      this.loading = false;
    }
  }

  item(run) {
    const status = run.status || "unknown";
    const button = h("button", { type: "button", class: "history-item", attrs: { "aria-label": `Open run: ${truncate(run.task, 100)}` } },
      h("span", { class: "history-task", text: maskText(run.task || "(no task)") }),
      h("span", { class: "history-meta" },
        h("span", { class: "status-badge", dataset: { status }, text: STATUS[status] || status }),
        h("time", { dateTime: run.created_at || "", text: timeAgo(run.created_at) }),
        Number.isFinite(run.duration_s) ? h("span", { text: formatDuration(run.duration_s) }) : null,
        Number.isFinite(run.spent?.usd) ? h("span", { class: "run-cost", text: formatUsd(run.spent.usd) }) : null));
    button.addEventListener("click", () => this.open(run, button));
    return h("li", { dataset: { runId: run.run_id } }, button);
  }

  async open(run, opener) {
    const { dialog, dialogTitle, dialogBody } = this.el;
    this.opener = opener;
    dialogTitle.textContent = truncate(maskText(run.task || "Run"), 90);
    dialogBody.replaceChildren(h("p", { class: "empty", text: "Loading the run…" }));
    if (!dialog.open) dialog.showModal();
    try {
      const body = await this.api.runEvents(run.run_id);
      const events = Array.isArray(body?.events) ? body.events : [];
      dialogBody.replaceChildren();
      this.viewer?.destroy();
      this.viewer = new Timeline(dialogBody, { live: false });
      for (const event of events) this.viewer.ingest(event);
      if (!events.some((e) => e.type === "run_finished") && run.final_answer) {
        this.viewer.ingest({ type: "run_finished", source: "system", seq: null, run_id: run.run_id, timestamp: run.finished_at,
          data: { final_answer: run.final_answer, complete: run.status === "completed", stop_reason: run.stop_reason || run.status,
            duration_s: run.duration_s, usage: run.usage || {}, spent: run.spent || null } });
      }
      if (!events.length) dialogBody.replaceChildren(h("p", { class: "empty", text: "This run has no stored events." }));
    } catch (err) {
      dialogBody.replaceChildren(h("p", { class: "empty", text: `Could not load this run: ${err.message}` }));
    }
  }
}
