//! Client stream negotiation (RFC 6120 §4–§7, RFC 7395 framing), sans-IO: stream headers
//! and top-level elements in, [`Action`]s out. Features before auth (SASL mechanisms of the
//! addressed host), SASL, stream restart, features after auth (bind, optional session),
//! resource binding; after that every stanza goes to the hub.
//!
//! It must never pass a stanza to the hub before the resource is bound, and never accept a
//! host it does not serve.

use crate::accounts::Accounts;
use crate::auth::{Auth, AuthMode, Identity};
use crate::jid::Jid;
use crate::sasl::{self, Exchange, Failure, Offer, Step, Who, NS_SASL};
use crate::stanza;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use proto::xml::{Element, NS_CLIENT, NS_FRAMING, NS_STREAM};
use std::sync::Arc;

pub const NS_BIND: &str = "urn:ietf:params:xml:ns:xmpp-bind";
pub const NS_SESSION: &str = "urn:ietf:params:xml:ns:xmpp-session";
const MAX_AUTH_ATTEMPTS: u32 = 3;

#[derive(Debug)]
pub enum Action {
    /// Write this stream-level XML (header, features, SASL answers, bind result).
    Write(String),
    /// The next bytes start a new stream: reset the parser.
    Restart,
    /// Register `jid` (a session of `identity`) with the hub, then call
    /// [`ClientStream::handle_bound`] with the JID the hub assigned.
    Bind { jid: Jid, iq_id: String, identity: Identity },
    /// Ask the hub whether this guest id and secret are recognised (trust on first use, the
    /// per-source limit), then call [`ClientStream::handle_guest_checked`].
    CheckGuest { id: String, secret_sha256: [u8; 32] },
    /// A stanza for the hub.
    Stanza(Element),
    /// End the stream with this stream error.
    Fail(&'static str, String),
    /// The client closed its stream; close ours.
    Close,
}

#[derive(Debug, PartialEq, Eq)]
enum State {
    /// Waiting for the first stream header.
    Open,
    /// Header answered, features sent; waiting for `<auth/>`.
    Auth,
    /// A SASL exchange waits for `<response/>`.
    Sasl,
    /// Authenticated; waiting for the restarted stream header.
    Restart,
    /// Waiting for resource binding.
    Bind,
    /// The bind IQ went to the hub.
    Binding,
    Bound,
}

pub struct ClientStream {
    domain: String,
    auth_domain: String,
    guest_domain: String,
    websocket: bool,
    accounts: Accounts,
    auth: Arc<Auth>,
    state: State,
    /// The host the client addressed (`domain` or `auth_domain`).
    host: String,
    who: Option<Who>,
    exchange: Option<Exchange>,
    /// The guest id whose check the hub is making.
    checking_guest: Option<String>,
    attempts: u32,
    /// Failed attempts not yet counted in `/metrics`.
    uncounted_failures: u32,
    jid: Option<Jid>,
}

impl ClientStream {
    pub fn new(domain: &str, websocket: bool, accounts: Accounts, auth: Arc<Auth>) -> Self {
        ClientStream {
            domain: domain.to_string(),
            auth_domain: format!("auth.{domain}"),
            guest_domain: format!("guest.{domain}"),
            websocket,
            accounts,
            auth,
            state: State::Open,
            host: String::new(),
            who: None,
            exchange: None,
            checking_guest: None,
            attempts: 0,
            uncounted_failures: 0,
            jid: None,
        }
    }

    pub fn is_bound(&self) -> bool {
        self.state == State::Bound
    }

    /// True once our stream header went out (errors after it need no header of their own).
    pub fn opened(&self) -> bool {
        self.state != State::Open
    }

    /// Failed SASL attempts since the last call (for `signal_auth_failures_total`).
    pub fn take_auth_failures(&mut self) -> u32 {
        std::mem::take(&mut self.uncounted_failures)
    }

    pub fn jid(&self) -> Option<&Jid> {
        self.jid.as_ref()
    }

    /// The mechanisms of the addressed host (`signal/ROOMS.md` section 1, `PEOPLE.md`
    /// section 1).
    fn offer(&self, now: i64) -> Offer<'_> {
        let open = self.auth.policy.mode != AuthMode::Token;
        if self.host == self.domain {
            Offer { anonymous: open, token: self.auth.verifier.as_ref(), accounts: None, guests: false, now }
        } else if self.host == self.guest_domain {
            Offer { anonymous: false, token: None, accounts: None, guests: open, now }
        } else {
            Offer { anonymous: false, token: None, accounts: Some(&self.accounts), guests: false, now }
        }
    }

    fn header(&self, id: &str) -> String {
        if self.websocket {
            format!("<open xmlns='{NS_FRAMING}' from='{}' id='{id}' version='1.0' xml:lang='en'/>", self.host)
        } else {
            format!(
                "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='{NS_STREAM}' from='{}' id='{id}' version='1.0' xml:lang='en'>",
                self.host
            )
        }
    }

    /// A stream header: `<stream:stream>` on TCP, `<open/>` on WebSocket.
    pub fn handle_open(&mut self, header: &Element) -> Vec<Action> {
        let mut out = Vec::new();
        let to = header.get_attr("to").unwrap_or("").to_ascii_lowercase();
        let first = self.state == State::Open;
        if first {
            self.host = if to.is_empty() { self.domain.clone() } else { to.clone() };
        }
        let id = proto::secrets::random_hex(12).unwrap_or_else(|_| "0".into());
        if !matches!(self.state, State::Open | State::Restart) {
            out.push(Action::Write(self.header(&id)));
            out.push(Action::Fail("not-authorized", "unexpected stream restart".into()));
            return out;
        }
        if self.websocket && header.ns() != NS_FRAMING {
            self.host = self.domain.clone();
            out.push(Action::Write(self.header(&id)));
            out.push(Action::Fail("invalid-namespace", "expected <open/> of RFC 7395".into()));
            return out;
        }
        if self.host != self.domain && self.host != self.auth_domain && self.host != self.guest_domain {
            let asked = std::mem::replace(&mut self.host, self.domain.clone());
            out.push(Action::Write(self.header(&id)));
            out.push(Action::Fail(
                "host-unknown",
                format!(
                    "this server serves {}, {} and {}, not {asked}",
                    self.domain, self.auth_domain, self.guest_domain
                ),
            ));
            return out;
        }
        if !first && !to.is_empty() && to != self.host {
            out.push(Action::Write(self.header(&id)));
            out.push(Action::Fail("host-unknown", "host changed at stream restart".into()));
            return out;
        }
        if header.get_attr("version") != Some("1.0") {
            out.push(Action::Write(self.header(&id)));
            out.push(Action::Fail("unsupported-version", "version='1.0' is required".into()));
            return out;
        }
        out.push(Action::Write(self.header(&id)));
        let mut features = String::from("<stream:features xmlns:stream='http://etherx.jabber.org/streams'>");
        if self.state == State::Open {
            features.push_str(&format!("<mechanisms xmlns='{NS_SASL}'>"));
            for m in self.offer(0).names() {
                features.push_str(&format!("<mechanism>{m}</mechanism>"));
            }
            features.push_str("</mechanisms>");
            self.state = State::Auth;
        } else {
            features.push_str(&format!("<bind xmlns='{NS_BIND}'/><session xmlns='{NS_SESSION}'><optional/></session>"));
            self.state = State::Bind;
        }
        features.push_str("</stream:features>");
        out.push(Action::Write(features));
        out
    }

    /// A top-level element other than a stream header.
    pub fn handle_element(&mut self, el: Element) -> Vec<Action> {
        if self.websocket && el.is("close", NS_FRAMING) {
            return vec![Action::Close];
        }
        if self.websocket && el.is("open", NS_FRAMING) {
            return self.handle_open(&el);
        }
        match self.state {
            State::Open | State::Restart => vec![Action::Fail("not-authorized", "stream header expected".into())],
            State::Auth | State::Sasl => self.handle_sasl(el),
            State::Bind | State::Binding => self.handle_bind(el),
            State::Bound => {
                if stanza::kind(&el).is_none() {
                    return vec![Action::Fail(
                        "unsupported-stanza-type",
                        format!("<{}/> in {:?} is not a stanza", el.name(), el.ns()),
                    )];
                }
                vec![Action::Stanza(el)]
            }
        }
    }

    fn sasl_failure(&mut self, f: Failure) -> Vec<Action> {
        self.sasl_refused(f, None)
    }

    fn sasl_refused(&mut self, f: Failure, text: Option<&str>) -> Vec<Action> {
        self.exchange = None;
        self.state = State::Auth;
        self.attempts += 1;
        self.uncounted_failures += 1;
        let text = text.map(|t| format!("<text xml:lang='en'>{}</text>", proto::xml::escape(t))).unwrap_or_default();
        let mut out = vec![Action::Write(format!("<failure xmlns='{NS_SASL}'><{}/>{text}</failure>", f.as_str()))];
        if self.attempts >= MAX_AUTH_ATTEMPTS {
            out.push(Action::Fail("policy-violation", "too many failed authentication attempts".into()));
        }
        out
    }

    fn apply(&mut self, step: Step) -> Vec<Action> {
        match step {
            Step::Challenge(bytes) => {
                self.state = State::Sasl;
                vec![Action::Write(format!("<challenge xmlns='{NS_SASL}'>{}</challenge>", B64.encode(bytes)))]
            }
            Step::Success { who, additional } => {
                self.who = Some(who);
                self.state = State::Restart;
                let body = if additional.is_empty() { String::new() } else { B64.encode(additional) };
                vec![Action::Write(format!("<success xmlns='{NS_SASL}'>{body}</success>")), Action::Restart]
            }
            Step::Failure(f) => self.sasl_failure(f),
            Step::Refused(f, text) => self.sasl_refused(f, Some(&text)),
            Step::CheckGuest { id, secret_sha256 } => {
                self.state = State::Sasl;
                self.checking_guest = Some(id.clone());
                vec![Action::CheckGuest { id, secret_sha256 }]
            }
        }
    }

    /// The hub's answer to [`Action::CheckGuest`].
    pub fn handle_guest_checked(&mut self, verdict: Result<(), crate::people::GuestRefusal>) -> Vec<Action> {
        use crate::people::GuestRefusal;
        let Some(id) = self.checking_guest.take() else { return self.sasl_failure(Failure::MalformedRequest) };
        match verdict {
            Ok(()) => self.apply(Step::Success { who: Who::Guest(id), additional: Vec::new() }),
            Err(GuestRefusal::Wrong) => self.sasl_refused(Failure::NotAuthorized, Some("wrong guest id or secret")),
            Err(GuestRefusal::TooMany(secs)) => self.sasl_refused(
                Failure::TemporaryAuthFailure,
                Some(&format!("too many wrong guest secrets from your address; try again in {secs} s")),
            ),
        }
    }

    fn decode(text: &str) -> Option<Vec<u8>> {
        let t = text.trim();
        if t == "=" || t.is_empty() {
            return Some(Vec::new());
        }
        B64.decode(t).ok()
    }

    fn handle_sasl(&mut self, el: Element) -> Vec<Action> {
        if el.ns() != NS_SASL {
            return vec![Action::Fail("not-authorized", "authenticate first".into())];
        }
        if self.checking_guest.is_some() {
            // nothing else may happen while the hub checks a guest (the driver waits for it)
            return self.sasl_failure(Failure::MalformedRequest);
        }
        match (el.name(), self.state == State::Sasl) {
            ("auth", false) => {
                let mech = el.get_attr("mechanism").unwrap_or("").to_string();
                let Some(initial) = Self::decode(&el.text_content()) else {
                    return self.sasl_failure(Failure::IncorrectEncoding);
                };
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs() as i64)
                    .unwrap_or(0);
                let (step, ex) = sasl::start(&mech, &initial, &self.offer(now));
                self.exchange = ex;
                self.apply(step)
            }
            ("response", true) => {
                let Some(bytes) = Self::decode(&el.text_content()) else {
                    return self.sasl_failure(Failure::IncorrectEncoding);
                };
                match self.exchange.take() {
                    Some(ex) => {
                        let step = sasl::respond(ex, &bytes);
                        self.apply(step)
                    }
                    None => self.sasl_failure(Failure::MalformedRequest),
                }
            }
            ("abort", _) => self.sasl_failure(Failure::Aborted),
            _ => self.sasl_failure(Failure::MalformedRequest),
        }
    }

    fn handle_bind(&mut self, el: Element) -> Vec<Action> {
        let is_bind =
            el.is("iq", NS_CLIENT) && el.get_attr("type") == Some("set") && el.get_child("bind", NS_BIND).is_some();
        if !is_bind || self.state == State::Binding {
            if el.is("iq", NS_CLIENT) && stanza::is_iq_request(&el) {
                let mut e = el.clone();
                e.remove_attr("from");
                if let Some(r) = stanza::error_reply(&e, stanza::NOT_AUTHORIZED, Some("bind a resource first")) {
                    return vec![Action::Write(r.to_stanza_string_for(self.websocket))];
                }
            }
            return vec![];
        }
        let requested = el
            .get_child("bind", NS_BIND)
            .and_then(|b| b.get_child("resource", NS_BIND))
            .map(|r| r.text_content())
            .filter(|r| !r.trim().is_empty() && r.len() <= 256 && !r.chars().any(char::is_control));
        let resource = requested.unwrap_or_else(|| proto::secrets::random_hex(6).unwrap_or_else(|_| "r".into()));
        let random_local = || proto::secrets::random_hex(8).unwrap_or_else(|_| "guest".into());
        let (jid, identity) = match self.who.take() {
            Some(Who::Account(u)) => {
                let jid = Jid::new(Some(&u), &self.auth_domain, Some(&resource));
                let bare = jid.bare().to_string();
                (jid, Identity::Account(bare))
            }
            Some(Who::Guest(id)) => {
                let jid = Jid::new(Some(&id), &self.guest_domain, Some(&resource));
                let bare = jid.bare().to_string();
                (jid, Identity::RecognisedGuest(bare))
            }
            Some(Who::Token(t)) => (Jid::new(Some(&random_local()), &self.domain, Some(&resource)), Identity::Token(t)),
            Some(Who::Anonymous) | None => {
                (Jid::new(Some(&random_local()), &self.domain, Some(&resource)), Identity::Guest)
            }
        };
        self.state = State::Binding;
        vec![Action::Bind { jid, iq_id: el.get_attr("id").unwrap_or("").to_string(), identity }]
    }

    /// The hub registered the session as `jid`: the bind result to write.
    pub fn handle_bound(&mut self, jid: Jid, iq_id: &str) -> String {
        self.state = State::Bound;
        let r = Element::new("iq", NS_CLIENT)
            .attr("type", "result")
            .attr("id", iq_id)
            .child(Element::new("bind", NS_BIND).child(Element::new("jid", NS_BIND).text(jid.to_string())));
        self.jid = Some(jid);
        r.to_stanza_string_for(self.websocket)
    }
}

/// Serializing single elements for a stream of the given framing.
pub trait ForStream {
    fn to_stanza_string_for(&self, websocket: bool) -> String;
}

impl ForStream for Element {
    fn to_stanza_string_for(&self, websocket: bool) -> String {
        if websocket {
            let mut s = String::new();
            self.write_to(&mut s, "");
            s
        } else {
            self.to_stanza_string()
        }
    }
}
