// Session signalling elements of proto/src/session.rs: Jingle action names, SDP inside
// <description xmlns="urn:meet-lan:sdp:0" type="offer|answer" [encoding="deflate"]>.
// The page always sends its descriptions compressed (base64 of raw DEFLATE, RFC 1951:
// CompressionStream('deflate-raw')), so a large conference's SDP stays far below signal's
// 64 KiB stanza limit; it reads both forms.

import { x, child } from './xmpp.js';

export const NS_JINGLE = 'urn:xmpp:jingle:1';
export const NS_SDP = 'urn:meet-lan:sdp:0';
export const SDP_DEFLATE = 'deflate';
/** Largest SDP a compressed description may expand to (proto::sdp_encoding::MAX_SDP_BYTES). */
export const MAX_SDP_BYTES = 1024 * 1024;

/**
 * A <jingle/>; `description` is `{ type, sdp }` (sent plain) or the result of
 * `compressDescription` (sent with encoding="deflate").
 */
export function jingle(action, sid, attrs = {}, description = null) {
  let d = null;
  if (description) {
    const a = { xmlns: NS_SDP, type: description.type };
    if (description.encoding) a.encoding = description.encoding;
    d = x('description', a, [description.encoding ? description.data : description.sdp]);
  }
  return x('jingle', { xmlns: NS_JINGLE, action, sid, ...attrs }, [d]);
}

async function readAll(stream, limit) {
  const reader = stream.getReader();
  const parts = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > limit) {
      reader.cancel().catch(() => {});
      throw new Error(`compressed SDP expands beyond ${limit} bytes`);
    }
    parts.push(value);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

function toBase64(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/** `{ type, sdp }` → `{ type, encoding: 'deflate', data }` for `jingle`. */
export async function compressDescription(description) {
  const input = new Blob([new TextEncoder().encode(description.sdp)]).stream();
  const bytes = await readAll(input.pipeThrough(new CompressionStream('deflate-raw')), Infinity);
  return { type: description.type, encoding: SDP_DEFLATE, data: toBase64(bytes) };
}

/** The SDP of a parsed description, decompressed when needed; throws on bad input. */
export async function descriptionSdp(d) {
  if (!d.encoding) return d.text;
  if (d.encoding !== SDP_DEFLATE) throw new Error(`unknown SDP encoding ${d.encoding}`);
  let raw;
  try {
    raw = Uint8Array.from(atob(d.text.replace(/\s+/g, '')), (c) => c.charCodeAt(0));
  } catch (_) {
    throw new Error('compressed SDP is not valid base64');
  }
  const input = new Blob([raw]).stream().pipeThrough(new DecompressionStream('deflate-raw'));
  const bytes = await readAll(input, MAX_SDP_BYTES);
  return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
}

/**
 * The <jingle/> of an IQ as a plain object, or null when there is none. Its description is
 * `{ type, encoding, text }`: read the SDP with `descriptionSdp`.
 */
export function parseJingle(stanza) {
  const j = child(stanza, 'jingle', NS_JINGLE);
  if (!j) return null;
  const d = child(j, 'description', NS_SDP);
  return {
    action: j.getAttribute('action'),
    sid: j.getAttribute('sid') || '',
    transport: j.getAttribute('transport'),
    peer: j.getAttribute('peer'),
    initiator: j.getAttribute('initiator') === 'true',
    reason: j.getAttribute('reason'),
    description: d ? { type: d.getAttribute('type'), encoding: d.getAttribute('encoding'), text: d.textContent } : null,
  };
}
