#!/usr/bin/env python3
"""Seed corpus from real traffic: reads a loopback capture (tcpdump -i lo -w FILE) taken
while end-to-end tests ran, reassembles every TCP connection and writes what each fuzz
target parses into fuzz/corpus/<target>/rec-<hash>:

  XMPP over TCP (client streams)        -> xml_client_stream (first byte 0: whole reads)
  XMPP over WebSocket (/xmpp-websocket) -> xml_client_stream (first byte 8: fragment mode)
  component streams (the bus)           -> xml_component_stream, both directions
  what signal sends focus on the bus    -> focus_stanzas (with <tick s=".."/> for pauses)
  Colibri JSON inside <colibri/>        -> colibri_json
  <description encoding="deflate">      -> sdp_encoding
  room tokens (JWTs) anywhere           -> token_verify
  /chat WebSocket frames from pages     -> filestore_chat_frames (one frame per line)
  /files/ request heads                 -> filestore_tus_headers

Usage: fuzz/record_corpus.py CAPTURE.pcap   (README.md, "Seed corpus")
"""
import hashlib
import html
import os
import re
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def packets(path):
    with open(path, 'rb') as f:
        data = f.read()
    magic = data[:4]
    endian = '<' if magic in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1') else '>'
    nanos = magic in (b'\x4d\x3c\xb2\xa1', b'\xa1\xb2\x3c\x4d')
    linktype = struct.unpack(endian + 'I', data[20:24])[0]
    skip = {1: 14, 113: 16, 276: 20, 0: 4}.get(linktype)
    if skip is None:
        sys.exit(f'unknown link type {linktype}')
    at = 24
    while at + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack(endian + 'IIII', data[at:at + 16])
        frame = data[at + 16:at + 16 + incl]
        at += 16 + incl
        yield sec + frac / (1e9 if nanos else 1e6), frame[skip:]


def tcp_segments(path):
    for ts, ip in packets(path):
        if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 6:
            continue
        ihl = (ip[0] & 15) * 4
        total = struct.unpack('>H', ip[2:4])[0]
        tcp = ip[ihl:total]
        sport, dport, seq = struct.unpack('>HHI', tcp[:8])
        flags = tcp[13]
        payload = tcp[(tcp[12] >> 4) * 4:]
        yield ts, (ip[12:16], sport, ip[16:20], dport), seq, flags, payload


def connections(path):
    """(client->server bytes with segment times, server->client bytes with times) per connection."""
    flows, clients = {}, set()
    for ts, key, seq, flags, payload in tcp_segments(path):
        if flags & 0x02 and not flags & 0x10:  # SYN without ACK: this side is the client
            clients.add(key)
        if payload:
            flows.setdefault(key, {}).setdefault(seq, (ts, payload))
    for key in clients:
        rev = (key[2], key[3], key[0], key[1])
        yield assemble(flows.get(key, {})), assemble(flows.get(rev, {}))


def assemble(segs):
    out, times, end = bytearray(), [], None
    for seq in sorted(segs):
        ts, p = segs[seq]
        if end is not None:
            if seq + len(p) <= end:
                continue
            p = p[max(0, end - seq):]
        times.append((len(out), ts))
        out += p
        end = seq + len(segs[seq][1])
    return bytes(out), times


def ws_frames(data, masked):
    """Payloads of the text frames of a WebSocket byte stream (after the HTTP head)."""
    out, at = [], 0
    while at + 2 <= len(data):
        op, ln = data[at] & 15, data[at + 1] & 127
        at += 2
        if ln == 126:
            ln = struct.unpack('>H', data[at:at + 2])[0]; at += 2
        elif ln == 127:
            ln = struct.unpack('>Q', data[at:at + 8])[0]; at += 8
        key = data[at:at + 4] if masked else None
        at += 4 if masked else 0
        p = data[at:at + ln]
        at += ln
        if key:
            p = bytes(b ^ key[i % 4] for i, b in enumerate(p))
        if op in (0, 1):
            out.append(p)
    return out


written = {}


def save(target, data):
    if not data:
        return
    d = os.path.join(HERE, 'corpus', target)
    os.makedirs(d, exist_ok=True)
    name = 'rec-' + hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data)
    written[target] = written.get(target, 0) + 1


def extract_xml_bits(text):
    for m in re.finditer(rb"<colibri xmlns=['\"]urn:meet-lan:colibri:0['\"]>(.*?)</colibri>", text, re.S):
        save('colibri_json', html.unescape(m.group(1).decode()).encode())
    for m in re.finditer(rb"<stats xmlns=['\"]urn:meet-lan:bridge-stats:0['\"]>(.*?)</stats>", text, re.S):
        save('colibri_json', html.unescape(m.group(1).decode()).encode())
    for m in re.finditer(rb"encoding=['\"]deflate['\"][^>]*>([A-Za-z0-9+/=\s]+)<", text):
        save('sdp_encoding', m.group(1))
    for m in re.finditer(rb'eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+', text):
        save('token_verify', b'\x00' + m.group(0))


def with_ticks(data, times, start):
    """`data[start:]` with `<tick s="N"/>` where the stream paused a second or more."""
    out, last, prev = bytearray(), None, start
    for off, ts in times:
        if off < start:
            last = ts
            continue
        if last is not None and ts - last >= 1:
            out += data[prev:off] + b'<tick s="%d"/>' % int(ts - last)
            prev = off
        last = ts
    return bytes(out + data[prev:])


def main(path):
    for (up, up_t), (down, down_t) in connections(path):
        extract_xml_bits(up)
        extract_xml_bits(down)
        if up.startswith((b'<?xml', b'<stream:stream')):
            if b'jabber:component:accept' in up[:400]:
                save('xml_component_stream', b'\x00' + up)
                save('xml_component_stream', b'\x00' + down)
                if re.search(rb"to=['\"]focus\.", up[:400]):
                    header_end = down.find(b'>', down.find(b'<stream:stream')) + 1
                    save('focus_stanzas', b'\x00' + with_ticks(down, down_t, header_end))
            else:
                save('xml_client_stream', b'\x00' + up)
        elif up.startswith(b'GET /xmpp-websocket'):
            frames = ws_frames(up[up.find(b'\r\n\r\n') + 4:], True)
            save('xml_client_stream', b'\x08' + b''.join(frames))
            extract_xml_bits(b''.join(ws_frames(down[down.find(b'\r\n\r\n') + 4:], False)))
        elif up.startswith(b'GET /chat?'):
            frames = ws_frames(up[up.find(b'\r\n\r\n') + 4:], True)
            save('filestore_chat_frames', b'\n'.join(f for f in frames if b'\n' not in f))
        for m in re.finditer(rb'(?:GET|HEAD|POST|PATCH|DELETE|OPTIONS) /files[^\r\n]*\r\n.*?\r\n\r\n', up, re.S):
            save('filestore_tus_headers', m.group(0))
    for t, n in sorted(written.items()):
        print(f'{t}: {n} files')


if __name__ == '__main__':
    main(sys.argv[1])
