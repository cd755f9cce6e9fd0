//! The archive's answers as stanzas: MAM results and their `<fin/>`, the inbox, the
//! notification list, the MAM form, disco#info. Pure builders; the driver sends them in the
//! order returned (results before the IQ result that ends them, as XEP-0313 requires).

use super::incoming::{MamQuery, Request};
use super::messages::{Archived, Inbox, MamPage};
use super::notifications::Notification;
use super::wire::*;
use proto::bus::iq_result;
use proto::xml::{parse_element, Element, NS_CLIENT};

/// `<forwarded><delay stamp/><message …/></forwarded>` of a stored message. A stored text
/// that no longer parses (it cannot: it was parsed before it was stored) is forwarded as an
/// empty message rather than failing the whole page.
fn forwarded(a: &Archived) -> Element {
    let msg = parse_element(&a.xml).unwrap_or_else(|_| Element::new("message", NS_CLIENT));
    Element::new("forwarded", NS_FORWARD).child(Element::new("delay", NS_DELAY).attr("stamp", rfc3339(a.at))).child(msg)
}

/// A `<message to=asker>` carrying one result.
fn result_message(to: &str, result: Element) -> Element {
    Element::new("message", NS_CLIENT).attr("to", to).child(result)
}

/// The asker's full JID, as the results' `to`.
fn asker_full(r: &Request) -> &str {
    r.iq.get_attr("from").unwrap_or_default()
}

/// One message per archived item, then the IQ result with `<fin/>`.
pub fn mam(r: &Request, q: &MamQuery, page: &MamPage) -> Vec<Element> {
    let to = asker_full(r);
    let mut out: Vec<Element> = page
        .items
        .iter()
        .map(|a| {
            let mut res = Element::new("result", NS_MAM).attr("id", a.stanza_id.as_str());
            if let Some(qid) = &q.queryid {
                res.set_attr("queryid", qid.as_str());
            }
            result_message(to, res.child(forwarded(a)))
        })
        .collect();
    let mut set = Element::new("set", NS_RSM);
    if let (Some(first), Some(last)) = (page.items.first(), page.items.last()) {
        set.append_child(
            Element::new("first", NS_RSM).attr("index", page.first_index.to_string()).text(first.stanza_id.as_str()),
        );
        set.append_child(Element::new("last", NS_RSM).text(last.stanza_id.as_str()));
    }
    set.append_child(Element::new("count", NS_RSM).text(page.count.to_string()));
    let fin = Element::new("fin", NS_MAM).attr("complete", if page.complete { "true" } else { "false" }).child(set);
    out.push(iq_result(&r.iq, Some(fin)));
    out
}

/// One message per conversation (newest first), then the IQ result with the totals.
pub fn inbox(r: &Request, queryid: Option<&str>, inbox: &Inbox) -> Vec<Element> {
    let to = asker_full(r);
    let mut out: Vec<Element> = inbox
        .entries
        .iter()
        .map(|e| {
            let mut res = Element::new("result", NS_INBOX)
                .attr("unread", e.unread.to_string())
                .attr("jid", e.peer.as_str())
                .attr("id", e.last.stanza_id.as_str());
            if let Some(qid) = queryid {
                res.set_attr("queryid", qid);
            }
            result_message(to, res.child(forwarded(&e.last)))
        })
        .collect();
    let fin = Element::new("fin", NS_INBOX)
        .attr("total", inbox.total.to_string())
        .attr("unread", inbox.unread_conversations.to_string())
        .attr("all-unread", inbox.all_unread.to_string());
    out.push(iq_result(&r.iq, Some(fin)));
    out
}

pub fn notifications(r: &Request, list: &[Notification]) -> Element {
    let mut e = Element::new("notifications", NS_PEOPLE);
    for n in list {
        e.append_child(n.element());
    }
    iq_result(&r.iq, Some(e))
}

/// The fields a MAM query may use (XEP-0313 §5: IQ get of the query).
pub fn mam_form(r: &Request) -> Element {
    let field = |var: &str, ty: &str| Element::new("field", NS_DATA).attr("var", var).attr("type", ty);
    let form = Element::new("x", NS_DATA)
        .attr("type", "form")
        .child(field("FORM_TYPE", "hidden").child(Element::new("value", NS_DATA).text(NS_MAM)))
        .child(field("with", "jid-single"))
        .child(field("start", "text-single"))
        .child(field("end", "text-single"));
    iq_result(&r.iq, Some(Element::new("query", NS_MAM).child(form)))
}

pub fn disco_info(r: &Request) -> Element {
    let mut q = Element::new("query", NS_DISCO_INFO).child(
        Element::new("identity", NS_DISCO_INFO)
            .attr("category", "store")
            .attr("type", "archive")
            .attr("name", "meet-lan archive"),
    );
    for f in [NS_DISCO_INFO, NS_MAM, NS_INBOX, NS_PEOPLE, NS_PING] {
        q.append_child(Element::new("feature", NS_DISCO_INFO).attr("var", f));
    }
    iq_result(&r.iq, Some(q))
}
