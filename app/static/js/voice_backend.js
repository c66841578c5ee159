// Which voice backend speaks (the server says so in every voice.state): "live" (GPT-Live client delegation)
// or "realtime" (the Realtime API). Shown as a small pill next to the voice state, with the full name as title.
const NAMES = { live: "GPT-Live", realtime: "Realtime API" };

export function showVoiceBackend(backend) {
  if (!backend) return;
  let pill = document.getElementById("voice-backend");
  if (!pill) {
    const anchor = document.getElementById("voice-pill");
    if (!anchor) return;
    pill = document.createElement("span");
    pill.id = "voice-backend";
    pill.className = "pill";
    anchor.after(pill);
  }
  pill.dataset.backend = backend;
  pill.textContent = NAMES[backend] ?? backend;
  pill.title = `The narrator speaks through ${NAMES[backend] ?? backend}`;
}

// Which transport carries the audio: "webrtc" (browser to the voice service directly) or "relay" (through
// this server), with why WebRTC was not used when the page fell back.
const TRANSPORTS = { webrtc: "WebRTC", relay: "via server" };

export function showVoiceTransport(transport, fallback = null) {
  let pill = document.getElementById("voice-transport");
  if (!pill) {
    const anchor = document.getElementById("voice-backend") ?? document.getElementById("voice-pill");
    if (!anchor) return;
    pill = document.createElement("span");
    pill.id = "voice-transport";
    pill.className = "pill";
    anchor.after(pill);
  }
  pill.dataset.transport = transport;
  pill.textContent = (TRANSPORTS[transport] ?? transport) + (fallback ? " (backup route)" : "");
  pill.title = transport === "webrtc"
    ? "Your voice goes straight to the voice service over WebRTC; the server only runs the narrator."
    : `Your voice goes through this server${fallback ? ` (the direct line did not open: ${fallback})` : ""}.`;
}
