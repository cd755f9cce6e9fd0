//! The JSON messages of `/chat`, both directions. Client messages are parsed strictly
//! (unknown `type` or fields of the wrong kind are a 400 error to that client); server
//! messages carry sender fields that the server set from the token.

use crate::files::store::FileRow;
use crate::ids::MessageId;
use proto::EndpointId;
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ClientMsg {
    /// A chat message to the room, or privately to one participant with `to`.
    Message {
        text: String,
        #[serde(default)]
        to: Option<EndpointId>,
        /// Echoed back so the sender can match its optimistic copy.
        #[serde(default)]
        client_id: Option<String>,
    },
    Edit {
        id: MessageId,
        text: String,
    },
    Delete {
        id: MessageId,
    },
    /// Announces a finished upload (`/files/<file_id>`) to the room, or privately with `to`.
    File {
        file_id: String,
        #[serde(default)]
        to: Option<EndpointId>,
        #[serde(default)]
        client_id: Option<String>,
    },
    /// Peer-to-peer transfer signalling (offer, answer, ICE candidates, accept, cancel,
    /// done...): relayed as is to `to`, a participant of the same room.
    P2p {
        to: EndpointId,
        transfer: String,
        signal: serde_json::Value,
    },
    /// Asks for a relayed transfer to `to` when the direct path failed.
    RelayOpen {
        to: EndpointId,
        transfer: String,
        name: String,
        size: u64,
        #[serde(default)]
        sha256: Option<String>,
    },
    /// A fresh room token for this connection (same room and nick), before the old expires.
    Auth {
        token: String,
    },
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Person {
    pub nick: EndpointId,
    pub name: String,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Text,
    File,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::File => "file",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ChatMessage {
    pub id: MessageId,
    pub from: Person,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<EndpointId>,
    pub kind: Kind,
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<FileRow>,
    pub created_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Limits {
    pub max_text_bytes: usize,
    pub max_frame_bytes: usize,
    pub rate_per_sec: f64,
    pub burst: f64,
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ServerMsg {
    Welcome {
        you: Person,
        room: String,
        participants: Vec<Person>,
        limits: Limits,
        token_exp: u64,
    },
    /// History follows the welcome in frames of at most ~32 KiB (so every proxy's frame
    /// limit holds); the last has `done: true`.
    History {
        messages: Vec<ChatMessage>,
        done: bool,
    },
    Message(ChatMessage),
    Edited {
        id: MessageId,
        text: String,
        edited_at: i64,
    },
    Deleted {
        id: MessageId,
    },
    Joined {
        participant: Person,
    },
    Left {
        participant: Person,
    },
    P2p {
        from: Person,
        transfer: String,
        signal: serde_json::Value,
    },
    RelayOpen {
        from: Person,
        transfer: String,
        relay: String,
        url: String,
        name: String,
        size: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        sha256: Option<String>,
    },
    RelayReady {
        to: EndpointId,
        transfer: String,
        relay: String,
        url: String,
    },
    AuthOk {
        token_exp: u64,
    },
    Error {
        code: u16,
        error: &'static str,
        message: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
    },
}

impl ServerMsg {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("server messages always serialize: plain structs with string keys")
    }
}

/// A transfer id chosen by a client: 1-64 of `[A-Za-z0-9_-]`.
pub fn valid_transfer_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
