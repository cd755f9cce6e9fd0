//! The shared roster (`signal/PEOPLE.md` section 2, RFC 6121 `jabber:iq:roster`): everyone
//! has everyone else, `subscription="both"`, named by their last display name, sorted by
//! name, at most [`MAX_ROSTER`] items. Nobody edits it (`not-allowed`); new people and new
//! names are pushed to every session that asked for it. Subscription requests are answered
//! `subscribed` at once and never forwarded (everyone already sees everyone).

use super::presence::push_refusal;
use super::People;
use crate::conn::{ConnId, Delivery};
use crate::jid::Jid;
use crate::stanza::{self, Refusal};
use proto::xml::{Element, NS_CLIENT};
use std::sync::Arc;

pub const NS_ROSTER: &str = "jabber:iq:roster";
/// Most items a roster answer carries.
pub const MAX_ROSTER: usize = 5000;

impl People {
    fn roster_item(&self, jid: &str) -> Option<Element> {
        let e = self.directory.get(jid)?;
        let mut item = Element::new("item", NS_ROSTER).attr("jid", &*e.jid).attr("subscription", "both");
        if let Some(n) = &e.name {
            item.set_attr("name", n.as_str());
        }
        Some(item)
    }

    /// A roster IQ from a person's session: `get` answers the shared roster (and makes the
    /// session one that gets pushes); `set` is refused.
    pub fn handle_roster(&mut self, conn: ConnId, iq: &Element, out: &mut Vec<Delivery>) {
        let Some(s) = self.sessions.get_mut(&conn) else { return };
        let to = s.full.clone();
        if iq.get_attr("type") != Some("get") {
            let r = Refusal::new(stanza::NOT_ALLOWED, "the roster is shared by everyone here; nobody edits it");
            push_refusal(conn, &to, iq, &r, out);
            return;
        }
        s.roster = true;
        let me = s.bare.clone();
        let key = |e: &super::directory::Entry| (e.shown_name().to_lowercase(), e.jid.clone());
        let mut people: Vec<_> = self.directory.entries().filter(|e| e.jid != me).map(|e| (key(e), e)).collect();
        people.sort_by(|a, b| a.0.cmp(&b.0));
        let mut q = Element::new("query", NS_ROSTER);
        for (_, e) in people.into_iter().take(MAX_ROSTER) {
            if let Some(item) = self.roster_item(&e.jid) {
                q.append_child(item);
            }
        }
        out.push(Delivery::new(conn, to, &proto::bus::iq_result(iq, Some(q))));
    }

    /// Tells every session that asked for the roster, but the person's own, of `jid` (new, or
    /// with a new name): a roster push.
    pub(super) fn push_item(&mut self, jid: &str, out: &mut Vec<Delivery>) {
        let Some(item) = self.roster_item(jid) else { return };
        self.next_push += 1;
        let push = Element::new("iq", NS_CLIENT)
            .attr("type", "set")
            .attr("id", format!("push-{}", self.next_push))
            .child(Element::new("query", NS_ROSTER).child(item));
        let body = Arc::new(push.prepare());
        for s in self.sessions.values().filter(|s| s.roster && &*s.bare != jid) {
            out.push(Delivery { conn: s.conn, to: s.full.clone(), body: body.clone() });
        }
    }

    /// A presence from a person's session to another person's bare JID: subscription requests
    /// are answered `subscribed` at once and go no further, a probe gets the person's
    /// current presences; anything else is dropped (presence goes to everyone anyway).
    pub fn handle_directed_presence(&mut self, conn: ConnId, to: &Jid, presence: &Element, out: &mut Vec<Delivery>) {
        let Some(me) = self.sessions.get(&conn).map(|s| s.full.clone()) else { return };
        let bare = to.bare().to_string();
        if !self.directory.contains(&bare) {
            let r = Refusal::new(stanza::ITEM_NOT_FOUND, "no such person");
            push_refusal(conn, &me, presence, &r, out);
            return;
        }
        match presence.get_attr("type") {
            Some("subscribe") => {
                let ok = Element::new("presence", NS_CLIENT).attr("from", bare).attr("type", "subscribed");
                out.push(Delivery::new(conn, me, &ok));
            }
            Some("probe") => self.send_presences_of(&bare, conn, out),
            _ => {}
        }
    }
}
