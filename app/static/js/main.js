// Wires the page: the team socket drives the timeline; the talk button opens the voice connection.
import { EventLog } from "./event_log.js";
import { fetchJson, History } from "./history.js";
import { TeamSocket } from "./team_socket.js";
import { Timeline } from "./timeline.js";
import { Voice } from "./voice.js";

const $ = (id) => document.getElementById(id);
const banner = $("banner");
const timeline = new Timeline(document);
const log = new EventLog($("event-log"), document.querySelector(".log-filters"));
const history = new History($("history"), timeline);
let voice = null;
let modelAccess = true;

function showBanner(text) {
  banner.textContent = text;
  banner.hidden = !text;
}

function setConnection(state) {
  const open = state === "open";
  $("conn-dot").className = `dot ${open ? "ok" : state === "closed" ? "bad" : ""}`;
  $("conn-text").textContent = open ? "Connected" : state === "closed" ? "Server unreachable, retrying…" : "Connecting…";
  if (state === "closed") showBanner("The server is unreachable. Retrying; nothing will be lost.");
  else if (open && banner.dataset.kind !== "config") showBanner("");
}

const team = new TeamSocket({
  onState: setConnection,
  onSent: (message) => log.add("sent", message.type, message, "team"),
  onEvent: (event) => {
    log.add("received", event.type, event, event.type === "error" ? "error" : "team", event.timestamp);
    if (event.type === "error" && event.data.code === "no_model_access") configProblem(event.data.message);
    else if (event.type === "error") showBanner(`${event.data.code}: ${event.data.message}`);
    timeline.handle(event);
    if (event.type === "run_finished") history.refresh();
  },
});

function configProblem(message) {
  modelAccess = false;
  banner.dataset.kind = "config";
  showBanner(message);
}

$("task-form").addEventListener("submit", (submit) => {
  submit.preventDefault();
  const input = $("task-input");
  const text = input.value.trim();
  if (!text) return;
  team.send({ type: "task", text });
  input.value = "";
});
for (const action of ["pause", "resume", "cancel"]) $(action).addEventListener("click", () => team.send({ type: action }));

$("talk").addEventListener("click", async () => {
  const button = $("talk");
  if (voice) {
    await voice.stop();
    voice = null;
    button.setAttribute("aria-pressed", "false");
    $("talk-label").textContent = "Talk";
    $("voice-state").textContent = "Voice off";
    return;
  }
  if (!modelAccess) return;
  voice = new Voice({
    sessionId: team.sessionId,
    onState: (state, message) => { $("voice-state").textContent = message || `Voice ${state}`; },
    onCaption: (caption) => {
      const target = $(caption.role === "user" ? "caption-user" : "caption-assistant");
      if (caption.final) target.textContent = caption.text;
      else if (target.dataset.item === caption.item_id) target.textContent += caption.delta;
      else target.textContent = caption.delta;
      target.dataset.item = caption.item_id;
    },
    onLog: (dir, name, data, kind, time) => log.add(dir, name, data, kind, time),
    onError: (code, message) => {
      if (code === "no_model_access") configProblem(message);
      else showBanner(`Voice: ${message}`);
      log.add("received", "error", { code, message }, "error");
    },
  });
  button.setAttribute("aria-pressed", "true");
  $("talk-label").textContent = "Stop";
  $("voice-state").textContent = "Starting the microphone…";
  if (!(await voice.start())) {
    voice = null;
    button.setAttribute("aria-pressed", "false");
    $("talk-label").textContent = "Talk";
  }
});

$("mute").addEventListener("click", () => {
  const button = $("mute");
  const muted = button.getAttribute("aria-pressed") !== "true";
  button.setAttribute("aria-pressed", String(muted));
  button.textContent = muted ? "Unmute" : "Mute";
  voice?.setMuted(muted);
});

fetchJson("/health").then((health) => {
  if (!health.model_access) configProblem("No model is configured: set OPENAI_API_KEY in .env and restart the server.");
}).catch(() => setConnection("closed"));
history.refresh();
