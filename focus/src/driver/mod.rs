//! The driver: one task owns the [`Focus`] core and the bus connection (component
//! `focus.<domain>`, reconnecting with backoff), turns stanzas into core inputs and core
//! outputs into stanzas, runs the core's timers, publishes a stats snapshot for the HTTP
//! endpoint and hands notifications to the webhook task. It holds no session logic.

pub mod http;
pub mod stanza;
pub mod webhook;

use crate::core::{Focus, Output, Settings, Stats};
use crate::{Config, Error};
use proto::bus::{BusReceiver, BusSender};
use proto::xml::{Element, NS_CLIENT};
use stanza::{Incoming, Jids};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use webhook::WebhookCounters;

/// What `/health`, `/stats` and `/metrics` show.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub stats: Stats,
    pub bus_connected: bool,
}

pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), Error> {
    let jids = Jids::new(&config.domain);
    let prefix = proto::secrets::random_hex(3).map_err(Error::Secret)?;
    let settings = Settings {
        p2p_enabled: config.p2p_enabled,
        p2p_delay: config.p2p_delay,
        muc_domain: jids.muc.clone(),
        id_prefix: format!("{prefix}-"),
        ..Settings::default()
    };
    let counters = Arc::new(WebhookCounters::default());
    let webhook = match &config.webhook_url {
        Some(u) => {
            let uri = webhook::check_url(u).map_err(|e| Error::BadSetting(format!("WEBHOOK_URL: {e}")))?;
            Some(webhook::spawn(uri, config.webhook_secret.clone(), counters.clone(), shutdown.clone()))
        }
        None => None,
    };
    let core = Focus::new(settings);
    let now = std::time::Instant::now();
    let (snap_tx, snap_rx) = watch::channel(Arc::new(Snapshot { stats: core.stats(now), bus_connected: false }));
    let listener = tokio::net::TcpListener::bind(config.http_addr)
        .await
        .map_err(|source| Error::Listen { addr: config.http_addr, source })?;
    tracing::info!(addr = %config.http_addr, "focus HTTP (health, stats, metrics) listening");
    let http = tokio::spawn(http::serve(listener, snap_rx, counters.clone(), webhook.is_some(), shutdown.clone()));
    let mut task = FocusTask { core, jids, webhook, counters, snap_tx, connected: false };
    task.run(&config.bus_addr, &config.bus_secret, &shutdown).await;
    shutdown.cancel();
    let _ = http.await;
    Ok(())
}

struct FocusTask {
    core: Focus,
    jids: Jids,
    webhook: Option<mpsc::Sender<crate::core::Notification>>,
    counters: Arc<WebhookCounters>,
    snap_tx: watch::Sender<Arc<Snapshot>>,
    connected: bool,
}

enum Ended {
    Lost,
    Shutdown,
}

fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

impl FocusTask {
    async fn run(&mut self, addr: &str, secret: &str, shutdown: &CancellationToken) {
        let mut backoff = Duration::from_millis(100);
        let mut first = true;
        loop {
            let conn = tokio::select! {
                _ = shutdown.cancelled() => return,
                c = proto::bus::connect(addr, &self.jids.me, secret) => c,
            };
            let (tx, rx) = match conn {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(%addr, error = %e, "bus connection failed; retrying in {backoff:?}");
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    continue;
                }
            };
            tracing::info!(jid = %self.jids.me, "connected to the bus");
            backoff = Duration::from_millis(100);
            self.connected = true;
            let _ = tx.send(stanza::join_bridges_room(&self.jids));
            if !first {
                self.core.handle_input(now(), crate::core::Input::Reconnected);
            }
            first = false;
            self.flush(&tx);
            let ended = self.session(&tx, rx, shutdown).await;
            self.connected = false;
            self.publish();
            match ended {
                Ended::Shutdown => return,
                Ended::Lost => tracing::warn!("bus connection lost; reconnecting"),
            }
        }
    }

    async fn session(&mut self, tx: &BusSender, mut rx: BusReceiver, shutdown: &CancellationToken) -> Ended {
        loop {
            let deadline = self.core.poll_timeout();
            let timer = async {
                match deadline {
                    Some(t) => tokio::time::sleep_until(tokio::time::Instant::from_std(t)).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => {
                    self.core.shutdown(now());
                    self.flush(tx);
                    // Our stanzas are written in order: a ping's answer means they are out.
                    let ping = Element::new("iq", NS_CLIENT).attr("type", "get").attr("to", &self.jids.domain)
                        .child(Element::new("ping", "urn:xmpp:ping"));
                    let _ = tx.iq_with_timeout(ping, Duration::from_secs(1)).await;
                    return Ended::Shutdown;
                }
                s = rx.recv() => match s {
                    None => return Ended::Lost,
                    Some(el) => match stanza::incoming(&self.jids, &el) {
                        Incoming::Input(i) => self.core.handle_input(now(), i),
                        Incoming::Answer(a) => { let _ = tx.send(a); }
                        Incoming::Ignore => {}
                    },
                },
                _ = timer => self.core.handle_timeout(now()),
            }
            self.flush(tx);
        }
    }

    fn flush(&mut self, tx: &BusSender) {
        while let Some(o) = self.core.poll_output() {
            match &o {
                Output::Notify(n) => {
                    if let Some(w) = &self.webhook {
                        if w.try_send(n.clone()).is_err() {
                            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                _ => {
                    if let Some(el) = stanza::outgoing(&self.jids, &o) {
                        if tx.send(el).is_err() {
                            tracing::debug!("bus closed while sending; the reconnect will resync");
                        }
                    }
                }
            }
        }
        self.publish();
    }

    fn publish(&self) {
        let snap = Snapshot { stats: self.core.stats(now()), bus_connected: self.connected };
        self.snap_tx.send_replace(Arc::new(snap));
    }
}
