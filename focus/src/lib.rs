//! focus: turns "people in a room" into "media flowing" (Jicofo's role in Jitsi).
//!
//! It follows every room's occupants over the bus as occupant `focus`, runs each
//! participant's session (through a bridge, or peer to peer for two), keeps the pool of
//! bridges and moves conferences off bridges that fail or drain. The logic is the sans-IO
//! [`core`]; the [`driver`] only turns stanzas into core inputs and core outputs into
//! stanzas, and serves `/health`, `/stats`, `/metrics`. Media never passes through focus,
//! and focus never trusts a name or payload from the network before checking it.

mod config;
pub mod core;
pub mod driver;
mod error;

pub use config::Config;
pub use driver::run;
pub use error::Error;
