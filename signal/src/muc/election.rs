//! Who is moderator (`signal/ROOMS.md` section 2). A person joining a room with no person
//! who is moderator becomes one if they are a host (a token's `moderator` claim decides
//! instead when present); when the last moderator leaves or is demoted, the longest-present
//! electable person is elected. Moderators grant and demote with muc#admin items; a
//! moderator is also owner (as Jitsi). Components (focus) are owner and moderator of every
//! room, never counted as people, never changed by people.

use super::occupant::{Person, Role};
use super::room::{Room, NS_MUC_ADMIN};
use crate::conn::Delivery;
use crate::stanza::{self, Refusal};
use proto::xml::Element;
use std::time::Instant;

impl Room {
    pub(super) fn has_person_moderator(&self) -> bool {
        self.occupants.values().any(|o| o.is_person() && o.is_moderator())
    }

    /// Would `p` be moderator if it joined now? A token's moderator claim counts only in
    /// the rooms the token covers.
    pub(super) fn would_be_moderator(&self, p: &Person) -> bool {
        let claim = p.session.identity.token().filter(|t| t.room.covers(&self.name)).and_then(|t| t.moderator);
        match claim {
            Some(claim) => claim && p.host,
            None => p.electable() && !self.has_person_moderator(),
        }
    }

    /// After a moderator left or was demoted: when no person is moderator any more, the
    /// longest-present electable person other than `except` becomes one.
    pub(super) fn reelect(&mut self, except: Option<&str>, out: &mut Vec<Delivery>) {
        if self.has_person_moderator() {
            return;
        }
        let next = self
            .occupants
            .values()
            .filter(|o| o.person.as_ref().is_some_and(Person::electable) && Some(o.nick.as_str()) != except)
            .min_by_key(|o| o.seq)
            .map(|o| o.nick.clone());
        if let Some(nick) = next {
            self.promote(&nick, out);
        }
    }

    /// Makes `nick` moderator and owner; it gets the removed list and the open knocks.
    pub(super) fn promote(&mut self, nick: &str, out: &mut Vec<Delivery>) {
        let Some(occ) = self.occupants.get_mut(nick) else { return };
        if occ.is_moderator() {
            return;
        }
        occ.set_moderator(true);
        self.rebroadcast(nick, out);
        self.send_moderator_lists(nick, out);
    }

    /// What a new moderator needs: the removed list (when not empty) and the open knocks.
    pub(super) fn send_moderator_lists(&self, nick: &str, out: &mut Vec<Delivery>) {
        let Some(occ) = self.occupants.get(nick) else { return };
        if !self.removed.is_empty() {
            out.push(Delivery::new(occ.conn, occ.real.clone(), &self.headline(self.removed_element())));
        }
        for k in self.lobby.knocks() {
            out.push(Delivery::new(occ.conn, occ.real.clone(), &self.headline(k.element())));
        }
    }

    /// A muc#admin `set`: each item grants, demotes or removes; the first refused item
    /// stops the request (earlier items stay applied, as XEP-0045 servers do).
    pub(super) fn handle_admin(
        &mut self,
        real: &str,
        q: &Element,
        now: Instant,
        out: &mut Vec<Delivery>,
    ) -> Result<(), Refusal> {
        let me = self.actor(real)?;
        let (my_role, my_owner, my_nick, i_am_person) =
            (me.role, me.affiliation == super::occupant::Affiliation::Owner, me.nick.clone(), me.is_person());
        let items: Vec<Element> = q.children().filter(|i| i.is("item", NS_MUC_ADMIN)).cloned().collect();
        if items.is_empty() {
            return Err(Refusal::new(stanza::BAD_REQUEST, "no item"));
        }
        for item in &items {
            let nick = self.item_target(item)?;
            let target = self.occupants.get(&nick).ok_or(Refusal::new(stanza::ITEM_NOT_FOUND, "no such occupant"))?;
            let wanted = match (item.get_attr("role"), item.get_attr("affiliation")) {
                (Some(role), _) => {
                    if my_role != Role::Moderator {
                        return Err(Refusal::new(
                            stanza::FORBIDDEN,
                            "only moderators may change roles or remove people",
                        ));
                    }
                    Role::parse(role).ok_or(Refusal::new(stanza::BAD_REQUEST, "unknown role"))?
                }
                (None, Some(aff)) => {
                    if !my_owner {
                        return Err(Refusal::new(stanza::FORBIDDEN, "only owners may change affiliations"));
                    }
                    match aff {
                        "owner" | "admin" => Role::Moderator,
                        "member" | "none" => Role::Participant,
                        "outcast" => return Err(Refusal::new(stanza::NOT_ALLOWED, "remove people with role none")),
                        _ => return Err(Refusal::new(stanza::BAD_REQUEST, "unknown affiliation")),
                    }
                }
                (None, None) => return Err(Refusal::new(stanza::BAD_REQUEST, "item needs role or affiliation")),
            };
            if !target.is_person() && i_am_person {
                return Err(Refusal::new(stanza::NOT_ALLOWED, "the conference focus cannot be changed by people"));
            }
            match wanted {
                Role::None => {
                    let reason = item.get_child("reason", NS_MUC_ADMIN).map(|r| r.text_content());
                    self.kick(&nick, &my_nick, reason, now, out);
                }
                Role::Moderator => {
                    if target.person.as_ref().is_some_and(|p| !p.host) {
                        return Err(Refusal::new(stanza::NOT_ALLOWED, "guests cannot be moderators here"));
                    }
                    self.promote(&nick, out);
                }
                Role::Participant | Role::Visitor => {
                    let occ = self.occupants.get_mut(&nick).expect("looked up above");
                    let was_moderator = occ.is_moderator();
                    occ.set_moderator(false);
                    occ.role = wanted;
                    self.rebroadcast(&nick, out);
                    if was_moderator {
                        self.reelect(Some(&nick), out);
                    }
                }
            }
        }
        Ok(())
    }

    /// The nick an admin item names, by `nick` or by real `jid` (full or bare).
    fn item_target(&self, item: &Element) -> Result<String, Refusal> {
        match (item.get_attr("nick"), item.get_attr("jid")) {
            (Some(n), _) => Ok(n.to_string()),
            (None, Some(j)) => self
                .by_real
                .iter()
                .find(|(r, _)| r.as_ref() == j || r.split('/').next() == Some(j))
                .map(|(_, n)| n.clone())
                .ok_or(Refusal::new(stanza::ITEM_NOT_FOUND, "no such occupant")),
            _ => Err(Refusal::new(stanza::BAD_REQUEST, "item needs nick or jid")),
        }
    }
}
