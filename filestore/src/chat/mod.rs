//! `/chat`: the room's chat over one WebSocket per participant (JSON text frames; the exact
//! protocol is in README.md). Also carries peer-to-peer transfer signalling and opens relay
//! transfers. Sender fields always come from the connection's room token, never from the
//! client's message.

pub mod connection;
pub mod history;
pub mod hub;
pub mod protocol;
pub mod rate;
