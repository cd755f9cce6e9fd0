//! focus: turns "people in a room" into "media flowing" (Jicofo's role in Jitsi).
//!
//! It follows every room's occupants over the bus as occupant `focus`, runs each
//! participant's session (through a bridge, or peer to peer for two), keeps the pool of
//! bridges and moves conferences off bridges that fail or drain. The logic is the sans-IO
//! [`core`]; the driver only turns stanzas into core inputs and core outputs into stanzas.
//! Media never passes through focus.

pub mod core;
