//! The archive's database (`DATA_DIR/archive.sqlite3`), as migrations (see `db.rs`): a
//! migration once released is never edited; a schema change is a new entry at the end.

pub const MIGRATIONS: &[&str] = &[r#"
-- One-to-one messages, each stored once under the stanza-id signal gave it. `seq` is the
-- order of arrival (signal routes in order), the order of every page and read pointer.
CREATE TABLE messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    stanza_id TEXT NOT NULL UNIQUE,
    -- the two bare JIDs, sorted, joined by a space
    conv TEXT NOT NULL,
    sender TEXT NOT NULL,
    recipient TEXT NOT NULL,
    -- origin-id, else the message id: what ordinary clients' chat markers refer to
    client_id TEXT,
    -- ms since the epoch, when signal routed it
    at INTEGER NOT NULL,
    -- the message as routed (jabber:client)
    xml TEXT NOT NULL
);
CREATE INDEX messages_conv ON messages(conv, seq);
CREATE INDEX messages_sender ON messages(sender, seq);
CREATE INDEX messages_recipient ON messages(recipient, seq);
CREATE INDEX messages_client_id ON messages(conv, client_id);

-- Per person and peer: the newest message, the read pointer and the unread count (messages
-- from the peer after the pointer), kept up to date on every message and marker.
CREATE TABLE conversations (
    person TEXT NOT NULL,
    peer TEXT NOT NULL,
    last_seq INTEGER NOT NULL,
    read_seq INTEGER NOT NULL,
    unread INTEGER NOT NULL,
    PRIMARY KEY (person, peer)
) WITHOUT ROWID;
CREATE INDEX conversations_recent ON conversations(person, last_seq);

-- XEP-0353 proposals and how they ended: proposed, accepted, declined, busy, missed.
CREATE TABLE calls (
    caller TEXT NOT NULL,
    callee TEXT NOT NULL,
    id TEXT NOT NULL,
    caller_name TEXT NOT NULL,
    media TEXT NOT NULL,
    room TEXT,
    proposed_at INTEGER NOT NULL,
    state TEXT NOT NULL,
    ended_at INTEGER,
    PRIMARY KEY (caller, callee, id)
) WITHOUT ROWID;
CREATE INDEX calls_callee ON calls(callee, id);
CREATE INDEX calls_state ON calls(state);

-- What waits for a person until dismissed: missed calls and invitations.
CREATE TABLE notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    person TEXT NOT NULL,
    kind TEXT NOT NULL,
    from_jid TEXT NOT NULL,
    from_name TEXT NOT NULL,
    at INTEGER NOT NULL,
    media TEXT,
    room TEXT,
    reason TEXT,
    -- what made it (a call, an invitation's id): a second copy makes no second notification
    source TEXT UNIQUE
);
CREATE INDEX notifications_person ON notifications(person, id);

-- Removals told by signal: room tokens of (room, nick) issued up to `at` (s) are refused.
CREATE TABLE revocations (
    room TEXT NOT NULL,
    nick TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (room, nick)
) WITHOUT ROWID;
"#];
