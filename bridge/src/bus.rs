//! The bridge on the bus (XEP-0114 component `<BRIDGE_ID>.<domain>` on signal): answers
//! Colibri IQs from focus by handing them to the media task, sends the core's Colibri
//! events to `focus.<domain>`, and announces the bridge's load every 5 s by presence in
//! `bridges@internal.<domain>/<BRIDGE_ID>`. Reconnects with a backoff.
//!
//! Only `focus.<domain>` may send Colibri requests; anything else is refused. This module
//! holds no media state; it only translates between stanzas and the media task.

use std::time::Duration;

use proto::bus::{iq_error, iq_result, BusSender, ErrorCondition};
use proto::colibri::{BridgeStats, ColibriEvent, ColibriRequest};
use proto::xml::{Element, NS_CLIENT};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use crate::driver::Command;
use crate::Error;

/// How often the load is announced.
pub const PRESENCE_EVERY: Duration = Duration::from_secs(5);
const NS_MUC: &str = "http://jabber.org/protocol/muc";

#[derive(Debug, Clone)]
pub struct BusConfig {
    pub addr: String,
    pub bridge_id: String,
    pub domain: String,
    pub secret: String,
}

impl BusConfig {
    fn jid(&self) -> String {
        format!("{}.{}", self.bridge_id, self.domain)
    }
    fn focus(&self) -> String {
        format!("focus.{}", self.domain)
    }
    fn room_jid(&self) -> String {
        format!("bridges@internal.{}/{}", self.domain, self.bridge_id)
    }
}

/// Runs until `shutdown`; then sends the last events (Draining) and an unavailable presence.
pub async fn run(
    cfg: BusConfig,
    commands: mpsc::Sender<Command>,
    mut events: mpsc::UnboundedReceiver<ColibriEvent>,
    stats: watch::Receiver<BridgeStats>,
    shutdown: CancellationToken,
) {
    let mut backoff = Duration::from_millis(200);
    loop {
        if shutdown.is_cancelled() {
            return;
        }
        let (tx, mut rx) = match proto::bus::connect(&cfg.addr, &cfg.jid(), &cfg.secret).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("bus connection to {} failed: {e}; retrying in {backoff:?}", cfg.addr);
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = shutdown.cancelled() => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        tracing::info!(jid = %cfg.jid(), "connected to the bus");
        backoff = Duration::from_millis(200);
        let _ = tx.send(presence(&cfg, &stats.borrow(), true));
        let mut tick = tokio::time::interval(PRESENCE_EVERY);
        tick.tick().await;
        loop {
            tokio::select! {
                stanza = rx.recv() => match stanza {
                    Some(el) => on_stanza(&cfg, el, &tx, &commands),
                    None => {
                        tracing::warn!("bus connection lost; reconnecting");
                        break;
                    }
                },
                Some(ev) = events.recv() => {
                    let draining = matches!(ev, ColibriEvent::Draining);
                    send_event(&cfg, &tx, ev);
                    if draining {
                        let _ = tx.send(presence(&cfg, &stats.borrow(), false));
                    }
                }
                _ = tick.tick() => {
                    let _ = tx.send(presence(&cfg, &stats.borrow(), false));
                }
                _ = shutdown.cancelled() => {
                    while let Ok(ev) = events.try_recv() {
                        send_event(&cfg, &tx, ev);
                    }
                    let _ = tx.send(Element::new("presence", NS_CLIENT).attr("to", cfg.room_jid()).attr("type", "unavailable"));
                    // Give the writer task a moment to flush before the stream drops.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    return;
                }
            }
        }
    }
}

fn presence(cfg: &BusConfig, stats: &BridgeStats, join: bool) -> Element {
    let json = serde_json::to_string(stats).expect("invariant: BridgeStats is plain data and serializes");
    let mut p = Element::new("presence", NS_CLIENT).attr("to", cfg.room_jid());
    if join {
        p = p.child(Element::new("x", NS_MUC));
    }
    p.child(Element::new("stats", proto::ns::BRIDGE_STATS).text(json))
}

fn send_event(cfg: &BusConfig, tx: &BusSender, ev: ColibriEvent) {
    let json = serde_json::to_string(&ev).expect("invariant: ColibriEvent is plain data and serializes");
    let iq = Element::new("iq", NS_CLIENT)
        .attr("type", "set")
        .attr("to", cfg.focus())
        .child(Element::new("colibri", proto::ns::COLIBRI).text(json));
    let tx = tx.clone();
    tokio::spawn(async move {
        if let Err(e) = tx.iq(iq).await {
            tracing::warn!("colibri event not acknowledged by focus: {e}");
        }
    });
}

fn on_stanza(cfg: &BusConfig, el: Element, tx: &BusSender, commands: &mpsc::Sender<Command>) {
    if el.name() != "iq" || !matches!(el.get_attr("type"), Some("get" | "set")) {
        return;
    }
    let from_focus = el.get_attr("from").map(|f| f.split('/').next().unwrap_or(f)) == Some(cfg.focus().as_str());
    let Some(body) = el.get_child("colibri", proto::ns::COLIBRI) else {
        let _ = tx.send(iq_error(&el, ErrorCondition::ServiceUnavailable, Some("this bridge only speaks Colibri")));
        return;
    };
    if !from_focus {
        let _ = tx.send(iq_error(&el, ErrorCondition::Forbidden, Some("only focus may send Colibri requests")));
        return;
    }
    let req = match serde_json::from_str::<ColibriRequest>(&body.text_content()) {
        Ok(r) => r,
        Err(e) => {
            let _ = tx.send(iq_error(&el, ErrorCondition::BadRequest, Some(&format!("colibri JSON: {e}"))));
            return;
        }
    };
    let (reply_tx, reply_rx) = oneshot::channel();
    if commands.try_send(Command::Colibri(req, reply_tx)).is_err() {
        let _ = tx.send(iq_error(&el, ErrorCondition::ResourceConstraint, Some("bridge busy")));
        return;
    }
    let tx = tx.clone();
    tokio::spawn(async move {
        let answer = match reply_rx.await {
            Ok(Ok(resp)) => {
                let json =
                    serde_json::to_string(&resp).expect("invariant: ColibriResponse is plain data and serializes");
                iq_result(&el, Some(Element::new("colibri", proto::ns::COLIBRI).text(json)))
            }
            Ok(Err(e)) => iq_error(&el, condition(&e), Some(&e.to_string())),
            Err(_) => iq_error(&el, ErrorCondition::ServiceUnavailable, Some("bridge stopping")),
        };
        let _ = tx.send(answer);
    });
}

fn condition(e: &Error) -> ErrorCondition {
    match e {
        Error::BadRequest(_) => ErrorCondition::BadRequest,
        Error::NotFound(_) => ErrorCondition::ItemNotFound,
        Error::Draining => ErrorCondition::ServiceUnavailable,
        _ => ErrorCondition::InternalServerError,
    }
}
