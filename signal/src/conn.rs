//! What the hub and the connections exchange: connection ids, the outbound queue items, and
//! the delivery records the room service produces. No logic lives here.

use proto::xml::{Element, Prepared};
use std::sync::Arc;

/// One connection (client stream, WebSocket or component), unique for the process lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// A stanza for one recipient: serialized once (`body`, shared by every copy of a
/// broadcast), addressed at write time (`to`).
#[derive(Debug, Clone)]
pub struct Delivery {
    pub conn: ConnId,
    pub to: Arc<str>,
    pub body: Arc<Prepared>,
}

impl Delivery {
    pub fn new(conn: ConnId, to: Arc<str>, stanza: &Element) -> Self {
        Delivery { conn, to, body: Arc::new(stanza.prepare()) }
    }
}

/// What a connection's writer receives from the hub.
#[derive(Debug)]
pub enum Outbound {
    Stanza { to: Arc<str>, body: Arc<Prepared> },
}

/// Bound of each connection's outbound queue; a connection that falls this far behind is
/// closed (slow consumer) instead of growing memory without limit.
pub const OUTBOX_CAPACITY: usize = 32 * 1024;
