//! The owner's side of a room: the XEP-0045 configuration form (where the password is set
//! or removed, as Jitsi's client does it), the room state every occupant sees (status 104
//! and `<room-state/>`), and destroying the room. Moderators are owners; so is focus.

use super::occupant::{Affiliation, NS_MUC_USER};
use super::room::{Room, NS_DATA, NS_MUC_OWNER};
use crate::conn::Delivery;
use crate::stanza::{self, Refusal};
use proto::ns::ROOM as NS_ROOM;
use proto::xml::{Element, NS_CLIENT};
use std::sync::Arc;

/// What a muc#owner request came to.
pub enum OwnerOutcome {
    /// The configuration form, for a `get`.
    Form(Element),
    /// Destroy the room with this `<destroy/>` request.
    Destroy(Element),
    Done,
}

impl Room {
    pub(super) fn handle_owner(
        &mut self,
        real: &str,
        ty: &str,
        q: &Element,
        out: &mut Vec<Delivery>,
    ) -> Result<OwnerOutcome, Refusal> {
        if self.occupant_by_real(real).map(|m| m.affiliation) != Some(Affiliation::Owner) {
            return Err(Refusal::new(
                stanza::FORBIDDEN,
                "only moderators (the room's owners) may configure or end the room",
            ));
        }
        if ty == "get" {
            return Ok(OwnerOutcome::Form(self.config_form()));
        }
        if let Some(d) = q.get_child("destroy", NS_MUC_OWNER) {
            return Ok(OwnerOutcome::Destroy(d.clone()));
        }
        let Some(x) = q.get_child("x", NS_DATA) else {
            return Err(Refusal::new(stanza::BAD_REQUEST, "expected a data form or <destroy/>"));
        };
        let locked = self.password.is_some();
        self.apply_config(x).map_err(|text| Refusal::new(stanza::NOT_ACCEPTABLE, text))?;
        if locked != self.password.is_some() {
            self.broadcast_room_state(out);
        }
        Ok(OwnerOutcome::Done)
    }

    /// `<message type="groupchat" from="room"><x muc#user><status 104/></x><room-state/>`.
    pub(super) fn room_state_message(&self) -> Element {
        Element::new("message", NS_CLIENT)
            .attr("from", &*self.jid)
            .attr("type", "groupchat")
            .child(Element::new("x", NS_MUC_USER).child(Element::new("status", NS_MUC_USER).attr("code", "104")))
            .child(
                Element::new("room-state", NS_ROOM)
                    .attr("locked", if self.password.is_some() { "true" } else { "false" })
                    .attr("lobby", if self.lobby.enabled { "on" } else { "off" }),
            )
    }

    pub(super) fn broadcast_room_state(&self, out: &mut Vec<Delivery>) {
        let body = Arc::new(self.room_state_message().prepare());
        for o in self.occupants.values() {
            out.push(Delivery { conn: o.conn, to: o.real.clone(), body: body.clone() });
        }
    }

    /// Destroys the room: every occupant gets an unavailable presence with `<destroy/>`,
    /// every knocker `<lobby state="ended"/>`.
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
        self.end_knocks(out);
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
        if secret.as_ref().is_some_and(|s| s.len() > 256) {
            return Err("the password is longer than 256 bytes");
        }
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
