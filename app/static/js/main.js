// Wires the page together: the team socket feeds the timeline, the talk button runs a voice session, the
// task box works with or without a microphone, and every frame in or out lands in the event log.
import { Api } from "./api.js";
import { Captions } from "./captions.js";
import { h } from "./dom.js";
import { EventLog } from "./event_log.js";
import { History } from "./history.js";
import { Notices } from "./notices.js";
import { setupTabs } from "./tabs.js";
import { TeamSocket } from "./team_socket.js";
import { formatUsd, runCost, Timeline } from "./timeline.js";
import { VoiceSession } from "./voice_session.js";

const $ = (id) => document.getElementById(id);
const body = document.body;

const notices = new Notices($("notices"));
const log = new EventLog($("event-log"),
  { filter: $("log-filter"), search: $("log-search"), clear: $("log-clear"), count: $("log-count") });
const logEvent = (dir, name, data, kind, isError = false, time = undefined) => log.add(dir, name, data, kind, isError, time);

const api = new Api({
  onRequest: (method, path) => logEvent("sent", `${method} ${path}`, { method, url: path }, "http"),
  onResponse: (method, path, status, data) =>
    logEvent("received", `${status || "failed"} ${path}`, data ?? {}, "http", status === 0 || status >= 400),
});

const captions = new Captions($("captions"), $("captions-empty"));
const timeline = new Timeline($("timeline"), {
  agents: $("agents"),
  empty: $("timeline-empty"),
  announce: (text) => { $("run-announcer").textContent = text; },
  onState: (state) => renderTeamState(state),
});
const history = new History(api, {
  list: $("history-list"), more: $("history-more"), refresh: $("history-refresh"), note: $("history-note"),
  dialog: $("run-dialog"), dialogTitle: $("run-dialog-title"), dialogBody: $("run-dialog-body"), dialogClose: $("run-dialog-close"),
});
let historyLoaded = false;
const tabs = setupTabs(document.querySelector('[role="tablist"]'), (id) => {
  if (id === "tab-history" && !historyLoaded) {
    historyLoaded = true;
    history.load();
  }
});

let modelAccess = true;

// ---- team socket ---------------------------------------------------------------------------------
const team = new TeamSocket(api, {
  log: logEvent,
  onState: (state) => renderServerState(state),
  onEvent: (event) => onTeamEvent(event, "team"),
});

const narrow = window.matchMedia("(max-width: 760px)");
let revealNextRun = false;

function onTeamEvent(event, via) {
  if (!timeline.ingest(event)) return; // already had it from the other socket
  if (event.type === "run_started" && timeline.isRecent(event)) {
    body.dataset.hasRuns = "true";
    // On a phone the team card is below the task box: bring the new run into view once.
    if (revealNextRun && narrow.matches) $("work-title").scrollIntoView({ behavior: "smooth", block: "start" });
    revealNextRun = false;
  }
  const data = event.data || {};
  if (event.type === "system" && data.event === "connected" && data.model_access === false) showNoModel();
  if (event.type === "error" && timeline.isRecent(event)) showError(data.code, data.message, via);
  if (event.type === "run_finished" && historyLoaded) history.load();
  if (event.type === "run_finished") addSessionCost(runCost(data));
}

// ---- cost of this session: the sum of its runs' known costs, next to the team's state --------------
let sessionUsd = 0;
function addSessionCost(usd) {
  if (usd === null) return;
  sessionUsd += usd;
  let badge = document.getElementById("session-cost");
  if (!badge) {
    badge = h("span", { class: "cost-badge", attrs: { id: "session-cost", title: "What this session's runs cost so far" } });
    $("team-state").after(badge);  // before the voice badge, if there is one
  }
  badge.textContent = `Session ${formatUsd(sessionUsd)}`;
}

// ---- the voice session's audio minutes and cost (voice.usage, sent when they change) ---------------
function minutesText(minutes) {
  const seconds = Math.round(minutes * 60);
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
}

function renderVoiceUsage(usage) {
  let badge = document.getElementById("voice-cost");
  if (!badge) {
    badge = h("span", { class: "cost-badge", attrs: { id: "voice-cost" } });
    (document.getElementById("session-cost") ?? $("team-state")).after(badge);
  }
  const usd = Number.isFinite(usage.usd) ? ` · ${formatUsd(usage.usd)}` : "";
  badge.textContent = `Voice ${minutesText(usage.minutes_in)} in · ${minutesText(usage.minutes_out)} out${usd}`;
  const how = usage.transport === "webrtc" ? "the speech the voice service reports" : "the audio carried";
  const billed = Number.isFinite(usage.billed_minutes) ? ` Billed session time: ${minutesText(usage.billed_minutes)}.` : "";
  const cost = usage.usd === null ? " Cost unknown: the voice model has no price on this server." : "";
  badge.title = `This voice session (${usage.backend}, ${usage.transport}): minutes of ${how}, you in, the narrator out.${billed}${cost}`;
}

const SERVER_TEXT = { connecting: "Connecting…", open: "Connected", reconnecting: "Reconnecting…", offline: "Server unreachable" };
let wasOffline = false;
let offlineCause = "down"; // "down": no answer at all; "sockets": HTTP works, the WebSocket does not

const OFFLINE_NOTICE = {
  down: ["Can’t reach the server", "Retrying by itself. Nothing is lost: missed team events are replayed when the connection is back."],
  sockets: ["The server answers, but the live connection fails",
    "Something between this browser and the server (a proxy or firewall) may block WebSockets. Retrying by itself."],
};

function renderServerState(state) {
  body.dataset.teamState = state;
  $("server-pill").dataset.state = state;
  $("server-text").textContent = SERVER_TEXT[state] ?? state;
  if (state === "offline") {
    wasOffline = true;
    showOffline();
    diagnoseOffline();
  } else if (state === "open") {
    notices.hide("offline");
    offlineCause = "down";
    if (wasOffline) {
      wasOffline = false;
      checkHealth();
    }
  }
  renderTaskAvailability();
}

function showOffline() {
  const [title, text] = OFFLINE_NOTICE[offlineCause];
  notices.show("offline", { level: "error", dismissible: false, title, text,
    actions: [{ label: "Retry now", onClick: () => team.reconnectNow() }] });
}

// ---- health, token -------------------------------------------------------------------------------
let lastDiagnosis = 0;

/** The live connection fails: is the server down, or up but refusing (token) or unreachable for sockets? */
async function diagnoseOffline() {
  if (Date.now() - lastDiagnosis < 10000) return;
  lastDiagnosis = Date.now();
  try {
    await api.health();
  } catch {
    offlineCause = "down";
    return;
  }
  if (!(await ensureAccess())) return;
  offlineCause = "sockets";
  if (team.state === "offline") showOffline();
}

async function checkHealth() {
  try {
    const health = await api.health();
    modelAccess = health.model_access !== false;
    if (!modelAccess) showNoModel();
    else {
      notices.hide("no-model");
      $("talk").disabled = false;
    }
    return true;
  } catch (err) {
    if (err.unreachable) renderServerState("offline");
    return false;
  }
}

function showNoModel() {
  modelAccess = false;
  $("talk").disabled = true;
  $("talk-hint").textContent = "Voice needs a model: the server has no API key configured.";
  notices.show("no-model", {
    level: "warning", title: "No API key configured on the server", dismissible: true,
    text: "The team and the narrator need a model. Set OPENAI_API_KEY in .env and restart the server (for a "
      + "compatible server, OPENAI_BASE_URL as well as a key; or MODEL_CONFIG_FILE). Typed questions wait in the box.",
  });
}

/** A 401 from the API means APP_TOKEN is set: ask for it before opening sockets. */
async function ensureAccess() {
  try {
    await api.runs(1, 0);
    return true;
  } catch (err) {
    if (!err.unauthorized) return true; // unreachable or other: the socket's retries and notices take over
  }
  const dialog = $("token-dialog");
  $("token-input").value = "";
  return new Promise((resolve) => {
    $("token-form").onsubmit = async (e) => {
      e.preventDefault();
      api.setToken($("token-input").value.trim(), $("token-remember").checked);
      dialog.close();
      const ok = await ensureAccess();
      if (ok) team.reconnectNow(); // if the socket was already retrying without the token
      resolve(ok);
    };
    if (!dialog.open) dialog.showModal();
  });
}

// ---- errors --------------------------------------------------------------------------------------
const ERROR_TITLES = {
  no_active_run: "There is no run to control", not_paused: "The team is not paused", already_paused: "The team is already paused",
  rate_limited: "Slow down a little", too_many_followups: "Too many follow-ups queued", agent_error: "An agent failed",
  model_error: "The model service failed", model_not_found: "A configured model no longer exists", webrtc_fallback: "Voice switched to the backup route", too_many_runs: "Too many runs at once", spending_limit: "Today's spending limit is reached", internal_error: "The server hit a problem", invalid_message: "That message was not accepted",
};

function showError(code, message, via) {
  if (code === "no_model_access") {
    showNoModel();
    return;
  }
  const fromVoice = via === "voice";
  notices.show(`error-${fromVoice ? "voice" : "team"}`, {
    level: fromVoice ? "warning" : "error",
    title: ERROR_TITLES[code] ?? (fromVoice ? "The voice session reported a problem" : "The team reported a problem"),
    text: `${message || ""}${code && !ERROR_TITLES[code] ? ` (${code})` : ""}`, // known codes speak for themselves
    timeoutMs: 10000,
  });
}

// ---- run controls and state ---------------------------------------------------------------------
const STATE_LABEL = { idle: "Idle", running: "Working", pausing: "Pausing…", paused: "Paused" };

function renderTeamState(state) {
  body.dataset.runState = state;
  const badge = $("team-state");
  badge.dataset.state = state;
  badge.textContent = STATE_LABEL[state] ?? state;
  $("pause").disabled = state !== "running";
  $("resume").disabled = state !== "paused";
  $("cancel").disabled = !["running", "pausing", "paused"].includes(state);
  renderTaskAvailability();
}

function control(action) {
  if (voice.control(action) || team.send({ type: action })) return;
  notices.show("control", { level: "warning", title: "Not connected",
    text: "The server is not reachable right now; try again in a moment.", timeoutMs: 6000 });
}
for (const action of ["pause", "resume", "cancel"]) $(action).addEventListener("click", () => control(action));
$("new-conversation").addEventListener("click", () => {
  // `reset` (the protocol's): the run stops if one is active, and the team forgets the conversation.
  if (team.send({ type: "reset" })) return;
  notices.show("control", { level: "warning", title: "Not connected",
    text: "The server is not reachable right now; try again in a moment.", timeoutMs: 6000 });
});

// ---- typed tasks ---------------------------------------------------------------------------------
const form = $("task-form");
const input = $("task-input");

function renderTaskAvailability() {
  const connected = team.open || voice.ready;
  $("task-send").disabled = !connected;
  $("new-conversation").disabled = !team.open;
  const running = ["running", "pausing", "paused"].includes(body.dataset.runState);
  $("task-hint").textContent = !connected ? "Waiting for the server…"
    : voice.ready ? "The narrator hands it to the team and speaks the answer."
      : running ? "A run is active: this becomes a follow-up for the team."
        : "Enter to send · Shift+Enter for a new line";
}

function submitTask() {
  const text = input.value.trim();
  if (!text) {
    input.focus();
    return;
  }
  if (!modelAccess) {
    // Nothing could answer it: keep the question in the box and say why, instead of a red line in the log.
    showNoModel();
    $("task-hint").textContent = "Not sent: the server has no model configured (see the notice above). Your text is kept.";
    input.focus();
    return;
  }
  let sent = false;
  if (voice.ready) {
    sent = voice.sendText(text);
    if (sent) captions.typed(text);
  }
  if (!sent) sent = team.send({ type: "task", text });
  if (sent) {
    input.value = "";
    revealNextRun = !voice.ready;
  } else {
    notices.show("send", { level: "warning", title: "Not sent",
      text: "The server is not reachable right now. Your text is still in the box.", timeoutMs: 6000 });
  }
}

form.addEventListener("submit", (e) => {
  e.preventDefault();
  submitTask();
});
input.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    submitTask();
  }
});
for (const chip of document.querySelectorAll("[data-example]")) {
  chip.addEventListener("click", () => {
    input.value = chip.textContent.trim();
    input.focus();
  });
}

// ---- voice -----------------------------------------------------------------------------------------
const VOICE_TEXT = { off: "Voice off", connecting: "Connecting voice…", ready: "Listening",
  reconnecting: "Reconnecting voice…", error: "Voice unavailable" };
const talk = $("talk");
const muteButton = $("mute");

const voice = new VoiceSession(api, {
  log: logEvent,
  onState: (state, detail) => renderVoiceState(state, detail),
  onLevel: (level) => talk.style.setProperty("--level", Math.min(1, level * 6).toFixed(3)),
  onSpeaking: (speaking) => { body.dataset.speaking = String(speaking); },
  onBargeIn: (cut) => { if (cut.itemId) captions.interrupted(cut.itemId); },
  onMessage: (message) => onVoiceMessage(message),
});
window.__voiceStats = voice.stats;

function onVoiceMessage(message) {
  switch (message.type) {
    case "caption":
      captions.handle(message);
      break;
    case "team":
      if (!team.open) logEvent("received", message.event?.type ?? "team", message.event, "team", message.event?.type === "error");
      onTeamEvent(message.event, "voice");
      break;
    case "error":
      showError(message.code, message.message, "voice");
      if (message.code === "no_model_access") stopVoice();
      break;
    case "voice.usage":
      renderVoiceUsage(message);
      break;
    case "voice.state":
      if (message.state === "error") {
        if (!modelAccess || /api key|model/i.test(message.message || "")) showNoModel();
        stopVoice();
      }
      break;
    default:
      break;
  }
}

const TALK_HINT = {
  off: "Press, then just speak. The narrator hands your question to the team and tells you the answer.",
  connecting: "Opening the voice session…",
  ready: "Listening. Speak any time; you can interrupt the narrator.",
  reconnecting: "Reconnecting the voice session…",
  error: "Voice is not available right now. You can still type your task below.",
};

function renderVoiceState(state, detail = {}) {
  body.dataset.voiceState = state;
  if (modelAccess) {
    $("talk-hint").textContent = state === "ready" && voice.muted
      ? "Microphone muted. The narrator can still speak to you." : TALK_HINT[state] ?? "";
  }
  $("voice-pill").dataset.state = state;
  $("voice-text").textContent = state === "ready" && voice.muted ? "Muted" : VOICE_TEXT[state] ?? state;
  const live = state !== "off" && state !== "error";
  $("talk-label").textContent = live ? (state === "ready" ? "End voice" : "Connecting…") : "Start talking";
  muteButton.disabled = !live;
  if (state === "ready") notices.hide("voice");
  if (state === "reconnecting") {
    notices.show("voice", { level: "info", dismissible: false, title: "Reconnecting the voice session…",
      text: detail.message || "The connection to the voice service dropped; it comes back by itself." });
  }
  if (state === "off") notices.hide("voice");
  renderTaskAvailability();
}

const MIC_HELP = {
  denied: ["Microphone access is blocked", "Allow the microphone for this site (the icon in the address bar), "
    + "then press Start talking again. You can still type your task below."],
  "no-device": ["No microphone found", "Connect a microphone and try again, or type your task below."],
  busy: ["The microphone is busy", "Another application is using it. Close it and try again, or type your task below."],
  insecure: ["The microphone needs a secure page", "Open this page over https (or on localhost). You can still type your task below."],
  unsupported: ["This browser cannot do voice here",
    "It lacks AudioWorklet support. Try a current Chrome, Edge, Firefox or Safari, or type your task below."],
  failed: ["The microphone could not start", "Try again, or type your task below."],
};

async function startVoice() {
  if (!team.sessionId || !team.open) {
    notices.show("voice", { level: "warning", title: "Not connected yet",
      text: "Voice starts once the page is connected to the server.", timeoutMs: 6000 });
    return;
  }
  notices.hide("mic");
  try {
    await voice.start(team.sessionId);
  } catch (err) {
    const [title, text] = MIC_HELP[err.kind] ?? MIC_HELP.failed;
    notices.show("mic", { level: "error", title, text: err.kind === "failed" ? `${err.message} ${text}` : text });
    logEvent("received", "microphone.error", { kind: err.kind ?? "failed", message: err.message }, "voice", true);
    renderVoiceState("off");
  }
}

function stopVoice() {
  voice.stop();
  setMuted(false);
}

function setMuted(muted) {
  voice.setMuted(muted);
  body.dataset.muted = String(muted);
  $("mute-label").textContent = muted ? "Unmute microphone" : "Mute microphone";
  if (voice.state === "ready") renderVoiceState("ready");
}

talk.addEventListener("click", () => {
  if (voice.active || voice.state !== "off") stopVoice();
  else startVoice();
});
muteButton.addEventListener("click", () => setMuted(!voice.muted));

// ---- start -----------------------------------------------------------------------------------------
window.__app = { team, voice, timeline, log, history, notices, tabs };
renderTeamState("idle");
renderVoiceState("off");

(async () => {
  const reachable = await checkHealth();
  if (reachable && !(await ensureAccess())) return;
  team.start();
})();
