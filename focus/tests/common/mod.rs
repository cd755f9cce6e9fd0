//! Shared helpers of focus's integration tests: the process cluster, a minimal XMPP
//! client and a str0m participant.
#![allow(dead_code)]

pub mod cluster;
pub mod peer;
pub mod xmpp;
