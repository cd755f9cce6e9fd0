// Session signalling elements of proto/src/session.rs: Jingle action names, SDP inside
// <description xmlns="urn:meet-lan:sdp:0" type="offer|answer">.

import { x, child } from './xmpp.js';

export const NS_JINGLE = 'urn:xmpp:jingle:1';
export const NS_SDP = 'urn:meet-lan:sdp:0';

export function jingle(action, sid, attrs = {}, description = null) {
  return x('jingle', { xmlns: NS_JINGLE, action, sid, ...attrs }, [
    description ? x('description', { xmlns: NS_SDP, type: description.type }, [description.sdp]) : null,
  ]);
}

/** The <jingle/> of an IQ as a plain object, or null when there is none. */
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
    description: d ? { type: d.getAttribute('type'), sdp: d.textContent } : null,
  };
}
