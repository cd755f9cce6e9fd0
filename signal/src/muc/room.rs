//! One XEP-0045 room: its occupants, password and subject, and what each occupant action
//! (join, presence update, leave, groupchat, private message, IQ to an occupant, kick,
//! destroy) sends to whom.
//!
//! Sans-IO: every method appends [`Delivery`]s; the hub writes them. A broadcast is
//! serialized once and shared by all its copies. It must never look up anything outside the
//! room (the service does addressing and access checks that span rooms).

use super::occupant::{Affiliation, Occupant, Role, NS_MUC_USER};
use crate::conn::{ConnId, Delivery};
use crate::stanza::{self, Cond};
use proto::xml::{Element, NS_CLIENT};
use std::collections::HashMap;
use std::sync::Arc;

pub const NS_MUC_OWNER: &str = "http://jabber.org/protocol/muc#owner";
pub const NS_MUC_ADMIN: &str = "http://jabber.org/protocol/muc#admin";
pub const NS_DATA: &str = "jabber:x:data";

#[derive(Debug)]
pub struct Room {
    /// `room@conference.meet.lan`
    pub jid: Arc<str>,
    pub name: String,
    occupants: HashMap<String, Occupant>,
    /// real JID → nick
    by_real: HashMap<Arc<str>, String>,
    pub password: Option<String>,
    subject: String,
    /// Members-only/other settings are not supported; the room is public and non-anonymous.
    pub created: bool,
}

/// The answer to a join attempt, for the service's bookkeeping.
pub enum JoinOutcome {
    Joined,
    Updated,
    Refused,
}

impl Room {
    pub fn new(jid: Arc<str>, name: String) -> Self {
        Room {
            jid,
            name,
            occupants: HashMap::new(),
            by_real: HashMap::new(),
            password: None,
            subject: String::new(),
            created: true,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.occupants.is_empty()
    }

    pub fn len(&self) -> usize {
        self.occupants.len()
    }

    pub fn occupant(&self, nick: &str) -> Option<&Occupant> {
        self.occupants.get(nick)
    }

    pub fn occupant_by_real(&self, real: &str) -> Option<&Occupant> {
        self.by_real.get(real).and_then(|n| self.occupants.get(n))
    }

    pub fn occupant_jid(&self, nick: &str) -> String {
        format!("{}/{}", self.jid, nick)
    }

    fn reply_err(
        out: &mut Vec<Delivery>,
        conn: ConnId,
        real: &Arc<str>,
        stanza: &Element,
        cond: Cond,
        text: Option<&str>,
    ) {
        if let Some(e) = stanza::error_reply(stanza, cond, text) {
            out.push(Delivery::new(conn, real.clone(), &e));
        }
    }

    /// Available presence from `real` to `room/nick`: a join or a presence update.
    pub fn handle_presence(
        &mut self,
        conn: ConnId,
        real: Arc<str>,
        nick: &str,
        presence: &Element,
        out: &mut Vec<Delivery>,
    ) -> JoinOutcome {
        let payload: Vec<Element> = presence
            .children()
            .filter(|c| !(c.ns() == super::occupant::NS_MUC || c.ns() == NS_MUC_USER))
            .cloned()
            .collect();
        if let Some(current) = self.by_real.get(&real).cloned() {
            if current != nick {
                if self.occupants.contains_key(nick) {
                    Self::reply_err(out, conn, &real, presence, stanza::CONFLICT, Some("that nickname is in use"));
                    return JoinOutcome::Refused;
                }
                self.change_nick(&current, nick, payload, out);
                return JoinOutcome::Updated;
            }
            let occ = self.occupants.get_mut(nick).expect("by_real and occupants hold the same nicks");
            occ.payload = payload;
            occ.refresh();
            let body = occ.presence.clone();
            let self_p = occ.presence_element(None, &["110"]);
            let (real_s, conn_s) = (occ.real.clone(), occ.conn);
            for o in self.occupants.values() {
                if o.conn != conn_s || o.real != real_s {
                    out.push(Delivery { conn: o.conn, to: o.real.clone(), body: body.clone() });
                }
            }
            out.push(Delivery::new(conn_s, real_s, &self_p));
            return JoinOutcome::Updated;
        }
        if self.occupants.contains_key(nick) {
            Self::reply_err(out, conn, &real, presence, stanza::CONFLICT, Some("that nickname is in use"));
            return JoinOutcome::Refused;
        }
        if let Some(pw) = &self.password {
            let given = presence
                .get_child("x", super::occupant::NS_MUC)
                .and_then(|x| x.get_child("password", super::occupant::NS_MUC))
                .map(|p| p.text_content());
            if given.as_deref() != Some(pw.as_str()) {
                Self::reply_err(out, conn, &real, presence, stanza::NOT_AUTHORIZED, Some("this room needs a password"));
                return JoinOutcome::Refused;
            }
        }
        let creator = self.occupants.is_empty() && self.created;
        self.created = false;
        let (aff, role) =
            if creator { (Affiliation::Owner, Role::Moderator) } else { (Affiliation::None, Role::Participant) };
        let room_jid: Arc<str> = self.occupant_jid(nick).into();
        let occ = Occupant::new(nick.to_string(), room_jid, real.clone(), conn, aff, role, payload);
        // 1. everyone already here, to the joiner
        for o in self.occupants.values() {
            out.push(Delivery { conn, to: real.clone(), body: o.presence.clone() });
        }
        // 2. the joiner, to everyone already here (one serialization)
        for o in self.occupants.values() {
            out.push(Delivery { conn: o.conn, to: o.real.clone(), body: occ.presence.clone() });
        }
        // 3. the joiner's own presence: 110 self, 100 real JIDs visible, 201 created
        let mut codes = vec!["100", "110"];
        if creator {
            codes.push("201");
        }
        out.push(Delivery::new(conn, real.clone(), &occ.presence_element(None, &codes)));
        // 4. the subject (empty when none): clients wait for it to finish joining
        let mut subject = Element::new("message", NS_CLIENT).attr("from", &*self.jid).attr("type", "groupchat");
        subject.set_attr("id", format!("subject-{}", self.occupants.len()));
        subject.append_child(Element::new("subject", NS_CLIENT).text(self.subject.clone()));
        out.push(Delivery::new(conn, real.clone(), &subject));
        self.by_real.insert(real, nick.to_string());
        self.occupants.insert(nick.to_string(), occ);
        JoinOutcome::Joined
    }

    /// XEP-0045 §7.6: unavailable from the old nick with 303 and the new nick, then available
    /// from the new nick (110 in both for the occupant itself).
    fn change_nick(&mut self, old: &str, new: &str, payload: Vec<Element>, out: &mut Vec<Delivery>) {
        let Some(mut occ) = self.occupants.remove(old) else { return };
        let mark = |mut p: Element, codes: &[&str]| {
            if let Some(x) = p.get_child_mut("x", NS_MUC_USER) {
                if let Some(item) = x.get_child_mut("item", NS_MUC_USER) {
                    item.set_attr("nick", new);
                }
                for c in codes {
                    x.append_child(Element::new("status", NS_MUC_USER).attr("code", *c));
                }
            }
            p
        };
        let gone_others = Arc::new(mark(occ.presence_element(Some("unavailable"), &[]), &["303"]).prepare());
        let gone_self = mark(occ.presence_element(Some("unavailable"), &[]), &["303", "110"]);
        occ.nick = new.to_string();
        occ.room_jid = self.occupant_jid(new).into();
        occ.payload = payload;
        occ.refresh();
        for o in self.occupants.values() {
            out.push(Delivery { conn: o.conn, to: o.real.clone(), body: gone_others.clone() });
            out.push(Delivery { conn: o.conn, to: o.real.clone(), body: occ.presence.clone() });
        }
        out.push(Delivery::new(occ.conn, occ.real.clone(), &gone_self));
        out.push(Delivery::new(occ.conn, occ.real.clone(), &occ.presence_element(None, &["110"])));
        self.by_real.insert(occ.real.clone(), new.to_string());
        self.occupants.insert(new.to_string(), occ);
    }

    /// Removes `nick`, telling it (with `self_codes` + 110) and the others (with `codes`).
    /// `extra` is added to the `<x/>` of every copy (a `<destroy/>`).
    fn remove(
        &mut self,
        nick: &str,
        codes: &[&str],
        extra: Option<&Element>,
        out: &mut Vec<Delivery>,
    ) -> Option<Occupant> {
        let occ = self.occupants.remove(nick)?;
        self.by_real.remove(&occ.real);
        let mut others = occ.presence_element(Some("unavailable"), codes);
        let mut self_codes: Vec<&str> = codes.to_vec();
        self_codes.push("110");
        let mut mine = occ.presence_element(Some("unavailable"), &self_codes);
        if let Some(extra) = extra {
            for p in [&mut others, &mut mine] {
                if let Some(x) = p.get_child_mut("x", NS_MUC_USER) {
                    x.append_child(extra.clone());
                }
            }
        }
        let body = Arc::new(others.prepare());
        for o in self.occupants.values() {
            out.push(Delivery { conn: o.conn, to: o.real.clone(), body: body.clone() });
        }
        out.push(Delivery::new(occ.conn, occ.real.clone(), &mine));
        Some(occ)
    }

    /// Unavailable presence (or a presence error, or a lost connection) of the occupant.
    pub fn leave(&mut self, nick: &str, out: &mut Vec<Delivery>) -> Option<Occupant> {
        self.remove(nick, &[], None, out)
    }

    /// Groupchat message from occupant `real`: broadcast to all with `from=room/nick`.
    pub fn handle_groupchat(&mut self, conn: ConnId, real: Arc<str>, mut msg: Element, out: &mut Vec<Delivery>) {
        let Some(nick) = self.by_real.get(&real).cloned() else {
            Self::reply_err(
                out,
                conn,
                &real,
                &msg,
                stanza::NOT_ACCEPTABLE,
                Some("only occupants may send to the room"),
            );
            return;
        };
        let occ = self.occupants.get(&nick).expect("by_real and occupants hold the same nicks");
        if occ.role == Role::Visitor {
            Self::reply_err(out, conn, &real, &msg, stanza::FORBIDDEN, Some("visitors may not speak"));
            return;
        }
        if let Some(s) = msg.get_child("subject", NS_CLIENT) {
            if occ.role != Role::Moderator {
                Self::reply_err(
                    out,
                    conn,
                    &real,
                    &msg,
                    stanza::FORBIDDEN,
                    Some("only moderators may change the subject"),
                );
                return;
            }
            self.subject = s.text_content();
        }
        msg.remove_attr("to");
        msg.set_attr("from", &*occ.room_jid);
        let body = Arc::new(msg.prepare());
        for o in self.occupants.values() {
            out.push(Delivery { conn: o.conn, to: o.real.clone(), body: body.clone() });
        }
    }

    /// A message or IQ from `real` to occupant `nick`: forwarded to the target's real JID
    /// with `from` = the sender's room JID. IQ answers take the same path back.
    pub fn handle_to_occupant(
        &mut self,
        conn: ConnId,
        real: Arc<str>,
        nick: &str,
        mut stanza: Element,
        out: &mut Vec<Delivery>,
    ) {
        let Some(sender) = self.by_real.get(&real).and_then(|n| self.occupants.get(n)) else {
            if stanza.name() == "iq" && !stanza::is_iq_request(&stanza) {
                return;
            }
            Self::reply_err(
                out,
                conn,
                &real,
                &stanza,
                stanza::NOT_ACCEPTABLE,
                Some("only occupants may address occupants"),
            );
            return;
        };
        let Some(target) = self.occupants.get(nick) else {
            Self::reply_err(out, conn, &real, &stanza, stanza::ITEM_NOT_FOUND, Some("no such occupant"));
            return;
        };
        if stanza.name() == "message" && stanza.get_attr("type") == Some("groupchat") {
            Self::reply_err(out, conn, &real, &stanza, stanza::BAD_REQUEST, Some("groupchat goes to the room"));
            return;
        }
        stanza.set_attr("from", &*sender.room_jid);
        stanza.remove_attr("to");
        out.push(Delivery::new(target.conn, target.real.clone(), &stanza));
    }

    /// muc#admin / muc#owner requests to the room itself. Returns true when the room was
    /// destroyed.
    pub fn handle_room_iq(&mut self, conn: ConnId, real: Arc<str>, iq: &Element, out: &mut Vec<Delivery>) -> bool {
        let Some(q) = iq.first_child() else {
            Self::reply_err(out, conn, &real, iq, stanza::BAD_REQUEST, None);
            return false;
        };
        let me = self.by_real.get(&real).and_then(|n| self.occupants.get(n));
        let ty = iq.get_attr("type").unwrap_or("");
        let reply_ok = |out: &mut Vec<Delivery>, payload: Option<Element>| {
            out.push(Delivery::new(conn, real.clone(), &proto::bus::iq_result(iq, payload)));
        };
        match (ty, q.name(), q.ns()) {
            ("get", "query", "http://jabber.org/protocol/disco#info") => {
                let mut r = Element::new("query", q.ns()).child(
                    Element::new("identity", q.ns())
                        .attr("category", "conference")
                        .attr("type", "text")
                        .attr("name", &self.name),
                );
                let pw = if self.password.is_some() { "muc_passwordprotected" } else { "muc_unsecured" };
                for f in [
                    super::NS_DISCO_INFO,
                    super::occupant::NS_MUC,
                    "muc_public",
                    "muc_open",
                    "muc_nonanonymous",
                    "muc_temporary",
                    pw,
                ] {
                    r.append_child(Element::new("feature", q.ns()).attr("var", f));
                }
                reply_ok(out, Some(r));
            }
            ("get", "query", "http://jabber.org/protocol/disco#items") => {
                reply_ok(out, Some(Element::new("query", q.ns())))
            }
            ("get", "ping", "urn:xmpp:ping") => reply_ok(out, None),
            (_, "query", NS_MUC_OWNER) => {
                if me.map(|m| m.affiliation) != Some(Affiliation::Owner) {
                    Self::reply_err(
                        out,
                        conn,
                        &real,
                        iq,
                        stanza::FORBIDDEN,
                        Some("only owners may configure the room"),
                    );
                    return false;
                }
                if ty == "get" {
                    reply_ok(out, Some(Element::new("query", NS_MUC_OWNER).child(self.config_form())));
                    return false;
                }
                if let Some(d) = q.get_child("destroy", NS_MUC_OWNER) {
                    reply_ok(out, None);
                    self.destroy(d, out);
                    return true;
                }
                match q.get_child("x", NS_DATA) {
                    Some(x) => match self.apply_config(x) {
                        Ok(()) => reply_ok(out, None),
                        Err(text) => Self::reply_err(out, conn, &real, iq, stanza::NOT_ACCEPTABLE, Some(text)),
                    },
                    None => Self::reply_err(
                        out,
                        conn,
                        &real,
                        iq,
                        stanza::BAD_REQUEST,
                        Some("expected a data form or <destroy/>"),
                    ),
                }
            }
            ("set", "query", NS_MUC_ADMIN) => {
                let Some(me) = me else {
                    Self::reply_err(out, conn, &real, iq, stanza::FORBIDDEN, Some("not an occupant"));
                    return false;
                };
                let (my_role, my_aff, my_nick) = (me.role, me.affiliation, me.nick.clone());
                let items: Vec<Element> = q.children().filter(|i| i.is("item", NS_MUC_ADMIN)).cloned().collect();
                if items.is_empty() {
                    Self::reply_err(out, conn, &real, iq, stanza::BAD_REQUEST, Some("no item"));
                    return false;
                }
                for item in &items {
                    if let Err((cond, text)) = self.admin_item(item, my_role, my_aff, &my_nick, out) {
                        Self::reply_err(out, conn, &real, iq, cond, Some(text));
                        return false;
                    }
                }
                reply_ok(out, None);
            }
            _ => {
                if stanza::is_iq_request(iq) {
                    Self::reply_err(out, conn, &real, iq, stanza::SERVICE_UNAVAILABLE, None);
                }
            }
        }
        false
    }

    /// One muc#admin item: a role change by nick (`none` = kick) or an affiliation change.
    fn admin_item(
        &mut self,
        item: &Element,
        my_role: Role,
        my_aff: Affiliation,
        my_nick: &str,
        out: &mut Vec<Delivery>,
    ) -> Result<(), (Cond, &'static str)> {
        let nick = match (item.get_attr("nick"), item.get_attr("jid")) {
            (Some(n), _) => n.to_string(),
            (None, Some(j)) => self
                .by_real
                .iter()
                .find(|(r, _)| r.as_ref() == j || r.split('/').next() == Some(j))
                .map(|(_, n)| n.clone())
                .ok_or((stanza::ITEM_NOT_FOUND, "no such occupant"))?,
            _ => return Err((stanza::BAD_REQUEST, "item needs nick or jid")),
        };
        let target = self.occupants.get(&nick).ok_or((stanza::ITEM_NOT_FOUND, "no such occupant"))?;
        if let Some(role) = item.get_attr("role") {
            let role = Role::parse(role).ok_or((stanza::BAD_REQUEST, "unknown role"))?;
            if my_role != Role::Moderator {
                return Err((stanza::FORBIDDEN, "only moderators may change roles"));
            }
            if target.affiliation == Affiliation::Owner && my_aff != Affiliation::Owner {
                return Err((stanza::NOT_ALLOWED, "an owner cannot be kicked or demoted"));
            }
            if role == Role::None {
                let mut actor = None;
                if !my_nick.is_empty() {
                    actor = Some(Element::new("actor", NS_MUC_USER).attr("nick", my_nick));
                }
                let reason = item.get_child("reason", NS_MUC_ADMIN).map(|r| r.text_content());
                self.kick(&nick, actor, reason, out);
                return Ok(());
            }
            let occ = self.occupants.get_mut(&nick).expect("checked above");
            occ.role = role;
            self.rebroadcast(&nick, out);
            return Ok(());
        }
        if let Some(aff) = item.get_attr("affiliation") {
            let aff = Affiliation::parse(aff).ok_or((stanza::BAD_REQUEST, "unknown affiliation"))?;
            if my_aff != Affiliation::Owner {
                return Err((stanza::FORBIDDEN, "only owners may change affiliations"));
            }
            let occ = self.occupants.get_mut(&nick).expect("checked above");
            occ.affiliation = aff;
            if matches!(aff, Affiliation::Owner | Affiliation::Admin) {
                occ.role = Role::Moderator;
            }
            self.rebroadcast(&nick, out);
            return Ok(());
        }
        Err((stanza::BAD_REQUEST, "item needs role or affiliation"))
    }

    fn rebroadcast(&mut self, nick: &str, out: &mut Vec<Delivery>) {
        let Some(occ) = self.occupants.get_mut(nick) else { return };
        occ.refresh();
        let body = occ.presence.clone();
        let mine = occ.presence_element(None, &["110"]);
        let (c, r) = (occ.conn, occ.real.clone());
        for o in self.occupants.values() {
            if o.nick != nick {
                out.push(Delivery { conn: o.conn, to: o.real.clone(), body: body.clone() });
            }
        }
        out.push(Delivery::new(c, r, &mine));
    }

    fn kick(&mut self, nick: &str, actor: Option<Element>, reason: Option<String>, out: &mut Vec<Delivery>) {
        let Some(occ) = self.occupants.remove(nick) else { return };
        self.by_real.remove(&occ.real);
        let decorate = |mut p: Element, codes: &[&str]| {
            if let Some(x) = p.get_child_mut("x", NS_MUC_USER) {
                if let Some(item) = x.get_child_mut("item", NS_MUC_USER) {
                    if let Some(a) = &actor {
                        item.append_child(a.clone());
                    }
                    if let Some(r) = &reason {
                        item.append_child(Element::new("reason", NS_MUC_USER).text(r.clone()));
                    }
                }
                for c in codes {
                    x.append_child(Element::new("status", NS_MUC_USER).attr("code", *c));
                }
            }
            p
        };
        let others = decorate(occ.presence_element(Some("unavailable"), &[]), &["307"]);
        let mine = decorate(occ.presence_element(Some("unavailable"), &[]), &["307", "110"]);
        let body = Arc::new(others.prepare());
        for o in self.occupants.values() {
            out.push(Delivery { conn: o.conn, to: o.real.clone(), body: body.clone() });
        }
        out.push(Delivery::new(occ.conn, occ.real.clone(), &mine));
    }

    /// Destroys the room: every occupant gets an unavailable presence with `<destroy/>`.
    pub fn destroy(&mut self, request: &Element, out: &mut Vec<Delivery>) {
        let mut d = Element::new("destroy", NS_MUC_USER);
        if let Some(j) = request.get_attr("jid") {
            d.set_attr("jid", j);
        }
        if let Some(r) = request.get_child("reason", NS_MUC_OWNER) {
            d.append_child(Element::new("reason", NS_MUC_USER).text(r.text_content()));
        }
        let nicks: Vec<String> = self.occupants.keys().cloned().collect();
        for nick in nicks {
            if let Some(occ) = self.occupants.remove(&nick) {
                self.by_real.remove(&occ.real);
                let mut p = occ.presence_element(Some("unavailable"), &["110"]);
                if let Some(x) = p.get_child_mut("x", NS_MUC_USER) {
                    if let Some(item) = x.get_child_mut("item", NS_MUC_USER) {
                        item.set_attr("affiliation", "none");
                    }
                    x.append_child(d.clone());
                }
                out.push(Delivery::new(occ.conn, occ.real.clone(), &p));
            }
        }
    }

    /// All occupants (for the service's cleanup when a connection goes away).
    pub fn occupants(&self) -> impl Iterator<Item = &Occupant> {
        self.occupants.values()
    }

    fn config_form(&self) -> Element {
        let field = |var: &str, ty: &str, label: &str, value: String| {
            Element::new("field", NS_DATA)
                .attr("var", var)
                .attr("type", ty)
                .attr("label", label)
                .child(Element::new("value", NS_DATA).text(value))
        };
        Element::new("x", NS_DATA)
            .attr("type", "form")
            .child(Element::new("title", NS_DATA).text(format!("Configuration of {}", self.name)))
            .child(field("FORM_TYPE", "hidden", "", "http://jabber.org/protocol/muc#roomconfig".into()))
            .child(field("muc#roomconfig_roomname", "text-single", "Name", self.name.clone()))
            .child(field(
                "muc#roomconfig_passwordprotectedroom",
                "boolean",
                "Password required to enter",
                if self.password.is_some() { "1" } else { "0" }.into(),
            ))
            .child(field(
                "muc#roomconfig_roomsecret",
                "text-private",
                "Password",
                self.password.clone().unwrap_or_default(),
            ))
            .child(field("muc#roomconfig_whois", "list-single", "Who may discover real JIDs", "anyone".into()))
    }

    /// Applies a submitted room configuration form (only the password fields change
    /// anything; other known fields are accepted as they are).
    fn apply_config(&mut self, x: &Element) -> Result<(), &'static str> {
        match x.get_attr("type") {
            Some("submit") => {}
            Some("cancel") => return Ok(()),
            _ => return Err("the form must be of type submit"),
        }
        let value = |var: &str| {
            x.children()
                .find(|f| f.is("field", NS_DATA) && f.get_attr("var") == Some(var))
                .map(|f| f.get_child("value", NS_DATA).map(|v| v.text_content()).unwrap_or_default())
        };
        let protected = value("muc#roomconfig_passwordprotectedroom").map(|v| v == "1" || v == "true");
        let secret = value("muc#roomconfig_roomsecret");
        match (protected, secret) {
            (Some(false), _) => self.password = None,
            (Some(true), Some(s)) if !s.is_empty() => self.password = Some(s),
            (Some(true), _) if self.password.is_some() => {}
            (Some(true), _) => return Err("a password-protected room needs muc#roomconfig_roomsecret"),
            (None, Some(s)) if !s.is_empty() => self.password = Some(s),
            (None, Some(_)) => self.password = None,
            (None, None) => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn join(room: &mut Room, conn: u64, nick: &str) -> Vec<Delivery> {
        let mut out = Vec::new();
        let p = proto::xml::parse_element(&format!(
            "<presence xmlns='jabber:client' to='r@c/{nick}'><x xmlns='http://jabber.org/protocol/muc'/></presence>"
        ))
        .unwrap();
        let real: Arc<str> = format!("u{conn}@meet.lan/r").into();
        assert!(matches!(room.handle_presence(ConnId(conn), real, nick, &p, &mut out), JoinOutcome::Joined));
        out
    }

    #[test]
    fn a_join_is_serialized_once_for_all_and_cached_presences_are_reused() {
        let mut room = Room::new("r@c".into(), "r".into());
        for i in 0..10 {
            join(&mut room, i, &format!("n{i}"));
        }
        let out = join(&mut room, 10, "n10");
        // 10 presences to the joiner, 10 copies of the joiner's presence, self, subject
        assert_eq!(out.len(), 22);
        let to_others: Vec<&Delivery> = out.iter().filter(|d| d.conn != ConnId(10)).collect();
        assert_eq!(to_others.len(), 10);
        assert!(to_others.iter().all(|d| Arc::ptr_eq(&d.body, &to_others[0].body)), "one body for every copy");
        let joiner = room.occupant("n10").unwrap();
        assert!(Arc::ptr_eq(&to_others[0].body, &joiner.presence));
        let to_joiner: Vec<&Delivery> = out.iter().filter(|d| d.conn == ConnId(10)).take(10).collect();
        for d in to_joiner {
            let nick = room.occupants().find(|o| Arc::ptr_eq(&o.presence, &d.body)).map(|o| o.nick.clone());
            assert!(nick.is_some(), "existing occupants' cached presences are sent as they are");
        }
    }

    #[test]
    fn leaving_tells_everyone_and_the_last_leave_empties_the_room() {
        let mut room = Room::new("r@c".into(), "r".into());
        join(&mut room, 1, "a");
        join(&mut room, 2, "b");
        let mut out = Vec::new();
        assert!(room.leave("b", &mut out).is_some());
        assert_eq!(out.len(), 2);
        assert!(room.leave("b", &mut out).is_none());
        room.leave("a", &mut out);
        assert!(room.is_empty());
    }
}
