// The ICE servers every RTCPeerConnection of the page uses: none unless the admin set
// ICE_SERVERS (their own STUN/TURN, for participants behind NAT). On a LAN host candidates
// are enough, and nothing may reach the internet.

let servers = [];

export function setIceServers(list) {
  servers = Array.isArray(list) ? list.filter((s) => s && typeof s.urls === 'string') : [];
}

export function iceServers() {
  return servers.map((s) => ({ ...s }));
}
