"""An aiortc participant for the bridge's interop test (an independent WebRTC stack).

It offers like the browser client: sendonly audio, sendonly video, and the
`bridge-channel` data channel. Signalling is JSON lines on stdin/stdout, relayed by the Rust
test, which plays focus on the real bus:

  out {"type": "offer", "sdp": ...}         in  {"type": "answer", "sdp": ...}
  in  {"type": "offer", "sdp": ...}         out {"type": "answer", "sdp": ...}   (bridge renegotiates)
  in  {"type": "report"}                    out {"type": "report", "packets": {source: n}, "channel": [...]}
  in  {"type": "quit"}

Received media is counted in RTP packets per source (`<endpoint>-a0`/`<endpoint>-v0`),
since the test senders' payloads are not decodable media. The bridge's m-lines are slots:
the latest SourcesMap on the bridge channel names the source each carries; a slot it does
not list carries the source its msid track id (`<source>#<slot number>`) names.
"""

import asyncio
import fractions
import json
import sys
import time

import aioice.ice

# aioice leaves loopback out of its host candidates; this test runs on loopback only.
aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription  # noqa: E402
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack  # noqa: E402
from av import VideoFrame  # noqa: E402


class SmallVideo(VideoStreamTrack):
    """A moving 320x180 pattern, small enough to encode on a busy CI machine."""

    def __init__(self):
        super().__init__()
        self.n = 0

    async def recv(self):
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame(width=320, height=180, format="yuv420p")
        self.n += 1
        for p in frame.planes:
            p.update(bytes([(self.n * 3) % 256]) * p.buffer_size)
        frame.pts = pts
        frame.time_base = time_base
        return frame


def send(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def main():
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver(AudioStreamTrack(), direction="sendonly")
    pc.addTransceiver(SmallVideo(), direction="sendonly")
    channel = pc.createDataChannel("bridge-channel")
    messages = []

    @channel.on("message")
    def on_message(m):
        try:
            messages.append(json.loads(m))
        except ValueError:
            pass

    async def drain(track):
        while True:
            try:
                await track.recv()
            except Exception:
                return

    @pc.on("track")
    def on_track(track):
        asyncio.ensure_future(drain(track))

    await pc.setLocalDescription(await pc.createOffer())
    send({"type": "offer", "sdp": pc.localDescription.sdp})

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            break
        msg = json.loads(line)
        if msg["type"] == "answer":
            await pc.setRemoteDescription(RTCSessionDescription(sdp=msg["sdp"], type="answer"))
        elif msg["type"] == "offer":
            await pc.setRemoteDescription(RTCSessionDescription(sdp=msg["sdp"], type="offer"))
            await pc.setLocalDescription(await pc.createAnswer())
            send({"type": "answer", "sdp": pc.localDescription.sdp})
        elif msg["type"] == "report":
            packets = {}
            maps = [m for m in messages if m.get("colibriClass") == "SourcesMap"]
            owners = {s["mid"]: s["source"] for s in maps[-1]["mappedSources"]} if maps else {}
            for t in pc.getTransceivers():
                track = t.receiver.track
                if track is None or t.direction == "sendonly":
                    continue
                source = owners.get(t.mid) if t.mid in owners else track.id.split("#")[0]
                if source is None:
                    continue
                stats = await t.receiver.getStats()
                n = sum(getattr(s, "packetsReceived", 0) for s in stats.values() if s.type == "inbound-rtp")
                packets[source] = packets.get(source, 0) + n
            send({"type": "report", "packets": packets, "channel": messages, "ice": pc.iceConnectionState})
        elif msg["type"] == "quit":
            break
    await pc.close()


if __name__ == "__main__":
    asyncio.run(main())
