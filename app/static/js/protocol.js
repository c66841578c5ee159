// The protocol's constants, read once from the server's /protocol.json (generated from app/core/protocol.py and the
// router's grammar in agents/manager/routing.py), so the page never spells them itself.
async function loadProtocol() {
  try {
    const response = await fetch("/protocol.json", { cache: "no-cache" });
    return response.ok ? await response.json() : null;
  } catch {
    return null; // the server is unreachable: the page says so elsewhere; hand-offs are then not drawn
  }
}

export const protocol = await loadProtocol();
const constants = protocol?.constants ?? {};

/** The Manager's hand-off line ("NEXT AGENT: Researcher", "**Researcher**" too): group 1 is the agent. */
export const NEXT_AGENT_LINE = constants.next_agent_pattern
  ? new RegExp(`^.*${constants.next_agent_pattern}.*$`, `m${constants.next_agent_flags ?? ""}`)
  : null;
