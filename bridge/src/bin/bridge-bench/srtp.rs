//! SRTP for the cheap load generator: the keys str0m negotiated, taken from its DTLS
//! handshake without patching it, and RFC 7714 AEAD-GCM sealing and opening of RTP packets.
//!
//! Key capture: str0m 0.25 takes a pluggable `CryptoProvider` per `Rtc`. The provider here
//! forwards everything to `str0m::crypto::from_feature_flags()` (aws-lc-rs) and wraps its
//! DTLS instances; when one yields `DtlsOutput::KeyingMaterial` — the exporter output str0m
//! itself feeds into `Session::set_keying_material` — the wrapper records the material, the
//! profile and the DTLS role in the participant's [`KeySlot`]. [`Keys::derive`] then splits
//! and derives exactly as str0m's `SrtpContext::new` does (RFC 5764 §4.2 split, RFC 3711
//! §4.3 key derivation with the provider's AES-ECB round). Only the AEAD-GCM profiles are
//! supported: the bridge negotiates AEAD_AES_256_GCM with str0m peers.
//!
//! This module must never panic on a received packet: opening returns `None` for anything
//! short or unauthentic.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM, AES_256_GCM};
use str0m::crypto::dtls::{
    DtlsCert, DtlsImplError, DtlsInstance, DtlsOutput, DtlsProvider, DtlsVersion, ProtocolVersion, SrtpProfile,
};
use str0m::crypto::{CryptoError, CryptoProvider, SrtpProvider};

/// RFC 3711 §4.3.1 key derivation labels.
const LABEL_RTP_KEY: u8 = 0;
const LABEL_RTP_SALT: u8 = 2;
const LABEL_RTCP_KEY: u8 = 3;
const LABEL_RTCP_SALT: u8 = 5;
/// AEAD tag length of both GCM profiles.
pub const TAG_LEN: usize = 16;

/// What the DTLS handshake exported, as str0m received it.
#[derive(Debug, Clone)]
pub struct Captured {
    pub material: Vec<u8>,
    pub profile: SrtpProfile,
    /// DTLS client: str0m's "left" half of the material is then its sending key.
    pub active: bool,
}

/// Where one participant's DTLS wrapper leaves the keying material.
#[derive(Debug, Default)]
pub struct KeySlot(Mutex<Option<Captured>>);

impl KeySlot {
    pub fn take(&self) -> Option<Captured> {
        self.0.lock().ok().and_then(|mut g| g.take())
    }
}

/// A crypto provider that behaves as str0m's default and fills `slot` when the DTLS
/// handshake yields SRTP keys. The provider's parts must be `'static`; the DTLS wrapper is
/// leaked, one small struct per participant of a bench run.
pub fn capturing_provider(slot: Arc<KeySlot>) -> Arc<CryptoProvider> {
    let inner = str0m::crypto::from_feature_flags();
    let dtls: &'static CapturingDtls = Box::leak(Box::new(CapturingDtls { inner: inner.dtls_provider, slot }));
    Arc::new(CryptoProvider { dtls_provider: dtls, ..inner })
}

#[derive(Debug)]
struct CapturingDtls {
    inner: &'static dyn DtlsProvider,
    slot: Arc<KeySlot>,
}

impl DtlsProvider for CapturingDtls {
    fn generate_certificate(&self) -> Option<DtlsCert> {
        self.inner.generate_certificate()
    }

    fn new_dtls(
        &self,
        cert: &DtlsCert,
        now: Instant,
        dtls_version: DtlsVersion,
        mtu: Option<usize>,
    ) -> Result<Box<dyn DtlsInstance>, CryptoError> {
        let inner = self.inner.new_dtls(cert, now, dtls_version, mtu)?;
        Ok(Box::new(CapturingInstance { inner, slot: self.slot.clone() }))
    }

    fn is_test(&self) -> bool {
        self.inner.is_test()
    }
}

#[derive(Debug)]
struct CapturingInstance {
    inner: Box<dyn DtlsInstance>,
    slot: Arc<KeySlot>,
}

impl DtlsInstance for CapturingInstance {
    fn set_active(&mut self, active: bool) {
        self.inner.set_active(active)
    }

    fn handle_packet(&mut self, packet: &[u8]) -> Result<(), DtlsImplError> {
        self.inner.handle_packet(packet)
    }

    fn poll_output<'a>(&mut self, buf: &'a mut [u8]) -> DtlsOutput<'a> {
        let out = self.inner.poll_output(buf);
        if let DtlsOutput::KeyingMaterial(km, profile) = &out {
            let captured = Captured { material: km.to_vec(), profile: *profile, active: self.inner.is_active() };
            if let Ok(mut g) = self.slot.0.lock() {
                *g = Some(captured);
            }
        }
        out
    }

    fn handle_timeout(&mut self, now: Instant) -> Result<(), DtlsImplError> {
        self.inner.handle_timeout(now)
    }

    fn send_application_data(&mut self, data: &[u8]) -> Result<usize, DtlsImplError> {
        self.inner.send_application_data(data)
    }

    fn is_active(&self) -> bool {
        self.inner.is_active()
    }

    fn protocol_version(&self) -> Option<ProtocolVersion> {
        self.inner.protocol_version()
    }

    fn is_closing(&self) -> bool {
        self.inner.is_closing()
    }

    fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    fn close(&mut self) -> Result<(), DtlsImplError> {
        self.inner.close()
    }
}

/// One direction's RTP key: AES-GCM with the derived session key and salt.
pub struct RtpKey {
    key: LessSafeKey,
    salt: [u8; 12],
}

impl std::fmt::Debug for RtpKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RtpKey")
    }
}

/// The participant's keys: `tx` seals the RTP it sends, `rx` opens the RTP the bridge
/// sends, `rtcp_tx` seals the transport-cc feedback it sends, `rtcp_rx` opens the bridge's
/// RTCP (to count the NACKs in it).
#[derive(Debug)]
pub struct Keys {
    pub tx: RtpKey,
    pub rx: RtpKey,
    pub rtcp_tx: RtpKey,
    pub rtcp_rx: RtpKey,
}

impl Keys {
    /// Derives both directions' RTP keys as str0m's `SrtpContext::new` does; `None` for a
    /// profile other than AEAD-GCM or material of the wrong length.
    pub fn derive(c: &Captured) -> Option<Keys> {
        let ml = match c.profile {
            SrtpProfile::AEAD_AES_256_GCM => 32,
            SrtpProfile::AEAD_AES_128_GCM => 16,
            _ => return None,
        };
        const SL: usize = 12;
        if c.material.len() != 2 * ml + 2 * SL {
            return None;
        }
        let srtp = str0m::crypto::from_feature_flags().srtp_provider;
        // RFC 5764 §4.2: client key, server key, client salt, server salt. str0m sends with
        // the "left" (client) half when it is the DTLS client.
        let half = |left: bool, labels: (u8, u8)| -> Option<RtpKey> {
            let (ko, so) = if left { (0, 0) } else { (ml, SL) };
            let master = c.material.get(ko..ko + ml)?;
            let salt = c.material.get(2 * ml + so..2 * ml + so + SL)?;
            let mut session_key = [0u8; 32];
            derive(srtp, master, salt, labels.0, &mut session_key[..ml]);
            let mut session_salt = [0u8; SL];
            derive(srtp, master, salt, labels.1, &mut session_salt);
            let alg = if ml == 32 { &AES_256_GCM } else { &AES_128_GCM };
            let key = UnboundKey::new(alg, &session_key[..ml]).ok()?;
            Some(RtpKey { key: LessSafeKey::new(key), salt: session_salt })
        };
        let (rtp, rtcp) = ((LABEL_RTP_KEY, LABEL_RTP_SALT), (LABEL_RTCP_KEY, LABEL_RTCP_SALT));
        Some(Keys {
            tx: half(c.active, rtp)?,
            rx: half(!c.active, rtp)?,
            rtcp_tx: half(c.active, rtcp)?,
            rtcp_rx: half(!c.active, rtcp)?,
        })
    }
}

/// RFC 3711 §4.3.3 AES-CM PRF over the master salt with `label`, as str0m's `SrtpKey::derive`.
fn derive(srtp: &dyn SrtpProvider, master: &[u8], salt: &[u8], label: u8, out: &mut [u8]) {
    let mut input = [0u8; 16];
    input[..salt.len()].copy_from_slice(salt);
    input[7] ^= label;
    let mut block = [0u8; 32];
    for (round, chunk) in out.chunks_mut(16).enumerate() {
        input[14..].copy_from_slice(&(round as u16).to_be_bytes());
        if master.len() == 32 {
            srtp.srtp_aes_256_ecb_round(master, &input, &mut block);
        } else {
            srtp.srtp_aes_128_ecb_round(master, &input, &mut block);
        }
        chunk.copy_from_slice(&block[..chunk.len()]);
    }
}

impl RtpKey {
    /// RFC 7714 §8.1: the IV is the salt XOR (0, 0, SSRC, ROC, SEQ).
    fn nonce(&self, ssrc: u32, roc: u32, seq: u16) -> Nonce {
        let mut iv = [0u8; 12];
        iv[2..6].copy_from_slice(&ssrc.to_be_bytes());
        iv[6..10].copy_from_slice(&roc.to_be_bytes());
        iv[10..12].copy_from_slice(&seq.to_be_bytes());
        for (b, s) in iv.iter_mut().zip(self.salt) {
            *b ^= s;
        }
        Nonce::assume_unique_for_key(iv)
    }

    /// Seals `packet` (an RTP header of `header_len` bytes with its extensions, then the
    /// payload) in place and appends the tag; `index` is the packet's extended sequence
    /// number (ROC << 16 | SEQ, RFC 3711 §3.3.1).
    pub fn seal(&self, packet: &mut Vec<u8>, header_len: usize, ssrc: u32, index: u64) -> bool {
        if packet.len() < header_len {
            return false;
        }
        let nonce = self.nonce(ssrc, (index >> 16) as u32, index as u16);
        let (header, payload) = packet.split_at_mut(header_len);
        let Ok(tag) = self.key.seal_in_place_separate_tag(nonce, Aad::from(&*header), payload) else { return false };
        packet.extend_from_slice(tag.as_ref());
        true
    }

    /// Seals a (compound) RTCP packet as SRTCP, RFC 7714 §9: the first 8 bytes stay clear
    /// and, with the E flag and `index`, are the AAD; tag and E|index are appended.
    /// IV and AAD of an SRTCP packet (RFC 7714 §9.1, §9.2): the SSRC and the SRTCP index
    /// (without the E bit) under the salt; the first 8 bytes, then E and index. `packet`
    /// has at least 8 bytes.
    fn rtcp_iv_aad(&self, packet: &[u8], e_and_index: [u8; 4]) -> ([u8; 12], [u8; 12]) {
        let index = u32::from_be_bytes(e_and_index) & 0x7fff_ffff;
        let mut iv = [0u8; 12];
        iv[2..6].copy_from_slice(&packet[4..8]);
        iv[8..12].copy_from_slice(&index.to_be_bytes());
        for (b, s) in iv.iter_mut().zip(self.salt) {
            *b ^= s;
        }
        let mut aad = [0u8; 12];
        aad[..8].copy_from_slice(&packet[..8]);
        aad[8..].copy_from_slice(&e_and_index);
        (iv, aad)
    }

    pub fn seal_rtcp(&self, packet: &mut Vec<u8>, index: u32) -> bool {
        if packet.len() < 8 {
            return false;
        }
        let e_and_index = (0x8000_0000 | (index & 0x7fff_ffff)).to_be_bytes();
        let (iv, aad) = self.rtcp_iv_aad(packet, e_and_index);
        let (_, body) = packet.split_at_mut(8);
        let Ok(tag) = self.key.seal_in_place_separate_tag(Nonce::assume_unique_for_key(iv), Aad::from(&aad[..]), body)
        else {
            return false;
        };
        packet.extend_from_slice(tag.as_ref());
        packet.extend_from_slice(&e_and_index);
        true
    }

    /// Opens an encrypted SRTCP packet (RFC 7714 §9) into `out`: the clear 8 bytes, then
    /// the plaintext; false when short, not encrypted or not authentic.
    pub fn open_rtcp(&self, packet: &[u8], out: &mut Vec<u8>) -> bool {
        let n = packet.len();
        if n < 8 + TAG_LEN + 4 {
            return false;
        }
        let e_and_index = [packet[n - 4], packet[n - 3], packet[n - 2], packet[n - 1]];
        if e_and_index[0] & 0x80 == 0 {
            return false;
        }
        let (iv, aad) = self.rtcp_iv_aad(packet, e_and_index);
        out.clear();
        out.extend_from_slice(&packet[..n - 4]);
        let Ok(plain) = self.key.open_in_place(Nonce::assume_unique_for_key(iv), Aad::from(&aad[..]), &mut out[8..])
        else {
            return false;
        };
        let len = 8 + plain.len();
        out.truncate(len);
        true
    }

    /// Opens an SRTP packet in place; returns the payload's range in `packet`, or `None`
    /// when it is short or does not authenticate.
    pub fn open(&self, packet: &mut [u8], header_len: usize, ssrc: u32, index: u64) -> Option<std::ops::Range<usize>> {
        if packet.len() < header_len + TAG_LEN {
            return None;
        }
        let nonce = self.nonce(ssrc, (index >> 16) as u32, index as u16);
        let (header, body) = packet.split_at_mut(header_len);
        let plain = self.key.open_in_place(nonce, Aad::from(&*header), body).ok()?;
        Some(header_len..header_len + plain.len())
    }
}

/// The parts of an RTP header the cheap receiver looks at, from a datagram that may be
/// anything: `None` unless it is long enough for the header it declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpView {
    pub pt: u8,
    pub seq: u16,
    pub ssrc: u32,
    pub padding: bool,
    pub header_len: usize,
}

/// The value of header extension `id` (one- or two-byte form, RFC 8285) in an RTP packet
/// whose header `RtpView::parse` accepted; `None` when absent or malformed.
pub fn find_extension(b: &[u8], id: u8) -> Option<&[u8]> {
    if b.first()? & 0x10 == 0 {
        return None;
    }
    let at = 12 + 4 * usize::from(b[0] & 0x0f);
    let profile = u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]);
    let words = usize::from(u16::from_be_bytes([*b.get(at + 2)?, *b.get(at + 3)?]));
    let block = b.get(at + 4..at + 4 + 4 * words)?;
    let two_byte = match profile {
        0xbede => false,
        p if p & 0xfff0 == 0x1000 => true,
        _ => return None,
    };
    let mut i = 0;
    while i < block.len() {
        let (eid, len, head) = if two_byte {
            let eid = block[i];
            if eid == 0 {
                i += 1;
                continue;
            }
            (eid, usize::from(*block.get(i + 1)?), 2)
        } else {
            let h = block[i];
            if h == 0 {
                i += 1;
                continue;
            }
            if h >> 4 == 15 {
                return None;
            }
            (h >> 4, usize::from(h & 0x0f) + 1, 1)
        };
        let value = block.get(i + head..i + head + len)?;
        if eid == id {
            return Some(value);
        }
        i += head + len;
    }
    None
}

impl RtpView {
    pub fn parse(b: &[u8]) -> Option<RtpView> {
        if b.len() < 12 || b[0] >> 6 != 2 {
            return None;
        }
        let cc = usize::from(b[0] & 0x0f);
        let mut header_len = 12 + 4 * cc;
        if b[0] & 0x10 != 0 {
            let words = b.get(header_len + 2..header_len + 4)?;
            header_len += 4 + 4 * usize::from(u16::from_be_bytes([words[0], words[1]]));
        }
        if b.len() < header_len {
            return None;
        }
        Some(RtpView {
            pt: b[1] & 0x7f,
            seq: u16::from_be_bytes([b[2], b[3]]),
            ssrc: u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
            padding: b[0] & 0x20 != 0,
            header_len,
        })
    }
}

/// The generic NACKs (RTPFB, FMT 1, RFC 4585 §6.2.1) in a clear compound RTCP packet, and
/// the sequence numbers they ask for; stops quietly at anything malformed.
pub fn count_nacks(mut b: &[u8]) -> (u64, u64) {
    let (mut messages, mut asked) = (0, 0);
    while b.len() >= 4 && b[0] >> 6 == 2 {
        let len = 4 * (usize::from(u16::from_be_bytes([b[2], b[3]])) + 1);
        let Some(p) = b.get(..len) else { break };
        if p[1] == 205 && p[0] & 0x1f == 1 {
            messages += 1;
            for fci in p.get(12..).unwrap_or(&[]).chunks_exact(4) {
                asked += 1 + u64::from(u16::from_be_bytes([fci[2], fci[3]]).count_ones());
            }
        }
        b = &b[len..];
    }
    (messages, asked)
}

/// Extends a 16-bit sequence number to the 64-bit index nearest `max` (the highest
/// extended index seen on the stream), as RFC 3711 Appendix A guesses the ROC.
pub fn extend_seq(max: u64, seq: u16) -> u64 {
    let base = max & !0xffff;
    let candidates = [base.wrapping_sub(0x1_0000), base, base + 0x1_0000];
    let mut best = base | u64::from(seq);
    let mut best_dist = u64::MAX;
    for c in candidates {
        if c > u64::MAX - 0x1_0000 {
            continue;
        }
        let v = c | u64::from(seq);
        let d = v.abs_diff(max);
        if d < best_dist {
            best = v;
            best_dist = d;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn material() -> Captured {
        let material = (0..88u8).map(|i| i.wrapping_mul(37).wrapping_add(11)).collect();
        Captured { material, profile: SrtpProfile::AEAD_AES_256_GCM, active: true }
    }

    #[test]
    fn what_the_client_seals_the_server_opens_and_nothing_else_does() {
        let client = Keys::derive(&material()).expect("AES-256-GCM material");
        let server = Keys::derive(&Captured { active: false, ..material() }).expect("AES-256-GCM material");
        let mut p = vec![0x90, 96, 0x12, 0x34, 0, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef, 0xbe, 0xde, 0, 1, 0x10, b'0', 0, 0];
        p.extend_from_slice(b"payload that ends in a time");
        let plain = p.clone();
        let index = (3u64 << 16) | 0x1234;
        assert!(client.tx.seal(&mut p, 20, 0xdeadbeef, index));
        assert_eq!(p.len(), plain.len() + TAG_LEN);
        assert_eq!(p[..20], plain[..20], "the header stays clear");
        assert!(client.rx.open(&mut p.clone(), 20, 0xdeadbeef, index).is_none(), "the other direction's key");
        assert!(server.rx.open(&mut p.clone(), 20, 0xdeadbeef, index - 0x1_0000).is_none(), "another ROC");
        let mut bad = p.clone();
        bad[5] ^= 1;
        assert!(server.rx.open(&mut bad, 20, 0xdeadbeef, index).is_none(), "the header is authenticated");
        let range = server.rx.open(&mut p, 20, 0xdeadbeef, index).expect("opens");
        assert_eq!(p[range], plain[20..]);
    }

    #[test]
    fn other_profiles_and_short_material_give_no_keys() {
        assert!(Keys::derive(&Captured { profile: SrtpProfile::AES128_CM_SHA1_80, ..material() }).is_none());
        assert!(Keys::derive(&Captured { material: vec![0; 87], ..material() }).is_none());
        let c = Captured { material: vec![1; 56], profile: SrtpProfile::AEAD_AES_128_GCM, active: false };
        assert!(Keys::derive(&c).is_some());
    }

    #[test]
    fn garbage_is_not_rtp_and_opening_it_fails_quietly() {
        assert_eq!(RtpView::parse(&[]), None);
        assert_eq!(RtpView::parse(&[0x80; 11]), None);
        assert_eq!(RtpView::parse(&[0x40; 12]), None, "version 1");
        assert_eq!(RtpView::parse(&[0x8f; 40]), None, "15 CSRCs need 72 bytes");
        let mut ext_too_long = vec![0x90, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xbe, 0xde, 0xff, 0xff];
        assert_eq!(RtpView::parse(&ext_too_long), None);
        ext_too_long[14] = 0;
        ext_too_long[15] = 0;
        let v = RtpView::parse(&ext_too_long).expect("an empty extension block");
        assert_eq!((v.header_len, v.seq, v.ssrc, v.pt), (16, 1, 1, 96));
        let keys = Keys::derive(&material()).expect("keys");
        assert!(keys.rx.open(&mut ext_too_long, 16, 1, 1).is_none());
        assert!(keys.rx.open(&mut [0u8; 40], 16, 1, 1).is_none());
    }

    /// Two str0m sessions (a participant that offers, a bridge-like one that answers), both
    /// with the capturing provider, connected in memory: what str0m sends opens with the
    /// receiver's derived key, and what the cheap sender seals str0m accepts as RTP.
    #[test]
    fn keys_taken_from_str0m_open_its_packets_and_seal_packets_it_accepts() {
        use std::net::SocketAddr;
        use std::time::Duration;
        use str0m::change::SdpOffer;
        use str0m::net::{Protocol, Receive};
        use str0m::rtp::{ExtensionValues, RtpWrite};
        use str0m::{Candidate, Input, Rtc};

        let build = |slot: &Arc<KeySlot>, now| {
            Rtc::builder()
                .set_rtp_mode(true)
                .clear_codecs()
                .enable_opus(true, false)
                .enable_vp8(true)
                .set_crypto_provider(capturing_provider(slot.clone()))
                .build(now)
        };
        let mut now = Instant::now();
        let (slot_p, slot_b) = (Arc::new(KeySlot::default()), Arc::new(KeySlot::default()));
        let (mut p, mut b) = (build(&slot_p, now), build(&slot_b, now));
        let (pa, ba): (SocketAddr, SocketAddr) = ("10.0.0.1:5000".parse().unwrap(), "10.0.0.2:6000".parse().unwrap());
        p.add_local_candidate(Candidate::host(pa, "udp").unwrap());
        b.add_local_candidate(Candidate::host(ba, "udp").unwrap());
        let offer = bridge::participant::publisher_offer(&mut p, "p", &["q"]);
        let answer = b.sdp_api().accept_offer(SdpOffer::from_sdp_string(&offer.offer).unwrap()).unwrap();
        p.sdp_api().accept_answer(offer.pending, answer).unwrap();

        // Datagrams from p (kept) and what each side reported.
        let (mut from_p, mut from_b): (Vec<Vec<u8>>, Vec<Vec<u8>>) = (Vec::new(), Vec::new());
        let (mut ev_p, mut ev_b) = (Vec::new(), Vec::new());
        for _ in 0..500 {
            now += Duration::from_millis(5);
            pump(&mut p, &mut b, (pa, ba), now, &mut from_p, &mut ev_p);
            pump(&mut b, &mut p, (ba, pa), now, &mut from_b, &mut ev_b);
            if has(&ev_p, "connected") && has(&ev_b, "connected") {
                break;
            }
        }
        assert!(has(&ev_p, "connected") && has(&ev_b, "connected"), "the two sessions connect");
        let kp = Keys::derive(&slot_p.take().expect("participant keys")).expect("AEAD-GCM");
        let kb = Keys::derive(&slot_b.take().expect("bridge keys")).expect("AEAD-GCM");

        // str0m's own RTP from the participant opens with the bridge side's rx key.
        let pt = *p.codec_config().find(|c| c.spec().codec == str0m::format::Codec::Opus).unwrap().pt();
        let ext = ExtensionValues { audio_level: Some(-40), voice_activity: Some(true), ..Default::default() };
        let mut api = p.direct_api();
        let tx = api.stream_tx_by_mid(offer.audio_mid, None).unwrap();
        let ssrc = *tx.ssrc();
        tx.write_rtp(
            RtpWrite::new(pt.into(), 7u64.into(), 960, now, b"str0m wrote this".to_vec()).ext_vals(ext.clone()),
        );
        from_p.clear();
        ev_b.clear();
        now += Duration::from_millis(1);
        pump(&mut p, &mut b, (pa, ba), now, &mut from_p, &mut ev_p);
        pump(&mut b, &mut p, (ba, pa), now, &mut Vec::new(), &mut ev_b);
        let mut sent = from_p.into_iter().find(|d| RtpView::parse(d).is_some_and(|v| v.ssrc == ssrc)).expect("RTP");
        let v = RtpView::parse(&sent).unwrap();
        let range = kb.rx.open(&mut sent, v.header_len, ssrc, 7).expect("str0m's packet opens with the derived key");
        assert_eq!(&sent[range], b"str0m wrote this");
        assert!(has(&ev_b, "rtp: str0m wrote this"), "{ev_b:?}");

        // The bridge side's RTCP (reports on the stream it now receives) opens with the
        // participant's derived RTCP key.
        from_b.clear();
        for i in 0..400u64 {
            now += Duration::from_millis(5);
            if i % 4 == 0 {
                let mut api = p.direct_api();
                let tx = api.stream_tx_by_mid(offer.audio_mid, None).unwrap();
                let w = RtpWrite::new(pt.into(), (9 + i).into(), 960 * (2 + i as u32), now, vec![0x55; 60]);
                tx.write_rtp(w.ext_vals(ext.clone()));
            }
            pump(&mut p, &mut b, (pa, ba), now, &mut Vec::new(), &mut ev_p);
            pump(&mut b, &mut p, (ba, pa), now, &mut from_b, &mut ev_b);
        }
        let rtcp: Vec<&Vec<u8>> =
            from_b.iter().filter(|d| d.len() > 1 && d[0] >> 6 == 2 && (192..=223).contains(&d[1])).collect();
        assert!(
            !rtcp.is_empty(),
            "the bridge side sent RTCP in 2 s: {:?}",
            from_b.iter().map(|d| (d.len(), d[0], d[1])).collect::<Vec<_>>()
        );
        let mut clear = Vec::new();
        for d in rtcp {
            assert!(kp.rtcp_rx.open_rtcp(d, &mut clear), "str0m's SRTCP opens with the derived key");
            assert_eq!(clear[0] >> 6, 2);
            assert!(!kp.rtcp_tx.open_rtcp(d, &mut clear), "not with the other direction's");
        }

        // A packet the cheap sender seals (same header, the next sequence number after the
        // ones above) is RTP to str0m.
        let mut mine = sent[..v.header_len].to_vec();
        mine[2..4].copy_from_slice(&406u16.to_be_bytes());
        mine.extend_from_slice(b"sealed beside str0m");
        assert!(kp.tx.seal(&mut mine, v.header_len, ssrc, 406));
        let contents = mine.as_slice().try_into().unwrap();
        b.handle_input(Input::Receive(now, Receive { proto: Protocol::Udp, source: pa, destination: ba, contents }))
            .unwrap();
        ev_b.clear();
        pump(&mut b, &mut p, (ba, pa), now, &mut Vec::new(), &mut ev_b);
        assert!(has(&ev_b, "rtp: sealed beside str0m"), "{ev_b:?}");
    }

    fn has(events: &[String], what: &str) -> bool {
        events.iter().any(|e| e == what)
    }

    /// Runs `me` at `now`, handing its datagrams to `other` (and copies to `sent`); notes
    /// Connected and RTP payloads (as text) in `events`.
    fn pump(
        me: &mut str0m::Rtc,
        other: &mut str0m::Rtc,
        (src, dst): (std::net::SocketAddr, std::net::SocketAddr),
        now: Instant,
        sent: &mut Vec<Vec<u8>>,
        events: &mut Vec<String>,
    ) {
        use str0m::net::{Protocol, Receive};
        use str0m::{Event, Input, Output};
        me.handle_input(Input::Timeout(now)).unwrap();
        while let Ok(out) = me.poll_output() {
            match out {
                Output::Timeout(_) => break,
                Output::Transmit(t) => {
                    sent.push(t.contents.to_vec());
                    let contents = (&t.contents[..]).try_into().unwrap();
                    let _ = other.handle_input(Input::Receive(
                        now,
                        Receive { proto: Protocol::Udp, source: src, destination: dst, contents },
                    ));
                }
                Output::Event(Event::Connected) => events.push("connected".into()),
                Output::Event(Event::RtpPacket(r)) => {
                    events.push(format!("rtp: {}", String::from_utf8_lossy(&r.payload)))
                }
                Output::Event(_) => {}
            }
        }
    }

    #[test]
    fn nacks_are_counted_in_compound_rtcp_and_garbage_stops_the_count() {
        let rr = [0x80, 201, 0, 1, 0, 0, 0, 1];
        // NACK for 100 plus 101 and 116 (BLP bits 0 and 15), and one for 7 alone.
        let nack = [0x81, 205, 0, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 100, 0x80, 0x01];
        let nack2 = [0x81, 205, 0, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 7, 0, 0];
        let pli = [0x81, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2];
        let compound = [&rr[..], &nack, &pli, &nack2].concat();
        assert_eq!(count_nacks(&compound), (2, 4));
        assert_eq!(count_nacks(&compound[..compound.len() - 1]), (1, 3), "a truncated last packet");
        assert_eq!(count_nacks(&[0x81, 205, 0xff, 0xff]), (0, 0));
        assert_eq!(count_nacks(&[]), (0, 0));
        let keys = Keys::derive(&material()).expect("keys");
        let mut out = Vec::new();
        assert!(!keys.rtcp_rx.open_rtcp(&[0x80; 27], &mut out));
        let mut sealed = compound.clone();
        assert!(keys.rtcp_tx.seal_rtcp(&mut sealed, 5));
        let other = Keys::derive(&Captured { active: false, ..material() }).expect("keys");
        assert!(other.rtcp_rx.open_rtcp(&sealed, &mut out));
        assert_eq!(out, compound);
    }

    #[test]
    fn sequence_numbers_extend_across_wraps_both_ways() {
        assert_eq!(extend_seq(10, 11), 11);
        assert_eq!(extend_seq(65_530, 3), 65_539);
        assert_eq!(extend_seq(65_539, 65_534), 65_534);
        assert_eq!(extend_seq(5, 65_535), 65_535, "no index below zero");
        assert_eq!(extend_seq((7 << 16) | 100, 90), (7 << 16) | 90);
    }
}
