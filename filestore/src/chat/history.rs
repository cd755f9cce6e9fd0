//! Chat messages in SQLite: stored on arrival, sent to joiners as history, edited and
//! deleted only by their sender (checked here, in the same statement that changes them).

use super::protocol::{ChatMessage, Kind, Person};
use crate::db::{now_ms, Db};
use crate::files::store::{self, FileRow};
use crate::ids::MessageId;
use crate::Error;
use proto::EndpointId;
use rusqlite::{params, OptionalExtension};

pub struct NewMessage {
    pub room: String,
    pub from: Person,
    pub to: Option<EndpointId>,
    pub kind: Kind,
    pub text: String,
    pub file: Option<FileRow>,
    pub client_id: Option<String>,
}

/// Stores a message and returns it as sent to clients.
pub async fn insert(db: &Db, m: NewMessage) -> Result<ChatMessage, Error> {
    db.call(move |c| {
        let now = now_ms();
        c.execute(
            "INSERT INTO messages (room, from_nick, from_name, to_nick, kind, text, file_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                m.room,
                m.from.nick.as_str(),
                m.from.name,
                m.to.as_ref().map(|t| t.as_str()),
                m.kind.as_str(),
                m.text,
                m.file.as_ref().map(|f| f.id.as_str()),
                now
            ],
        )?;
        Ok(ChatMessage {
            id: MessageId(c.last_insert_rowid()),
            from: m.from,
            to: m.to,
            kind: m.kind,
            text: m.text,
            file: m.file,
            created_at: now,
            edited_at: None,
            client_id: m.client_id,
        })
    })
    .await
}

/// The last `limit` messages of `room` that `nick` may see (group ones and its own private
/// ones), oldest first.
pub async fn load(db: &Db, room: String, nick: EndpointId, limit: usize) -> Result<Vec<ChatMessage>, Error> {
    db.call(move |c| {
        let mut st = c.prepare(
            "SELECT id, from_nick, from_name, to_nick, kind, text, file_id, created_at, edited_at FROM messages
             WHERE room = ?1 AND deleted = 0 AND (to_nick IS NULL OR to_nick = ?2 OR from_nick = ?2)
             ORDER BY id DESC LIMIT ?3",
        )?;
        type Raw = (i64, String, String, Option<String>, String, String, Option<String>, i64, Option<i64>);
        let raws: Vec<Raw> = st
            .query_map(params![room, nick.as_str(), limit as i64], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?))
            })?
            .collect::<Result<_, _>>()?;
        let mut out = Vec::with_capacity(raws.len());
        for (id, from_nick, from_name, to_nick, kind, text, file_id, created_at, edited_at) in raws.into_iter().rev() {
            let Ok(from) = EndpointId::new(from_nick) else { continue };
            let file = match &file_id {
                Some(f) => store::get_file(c, f)?,
                None => None,
            };
            let kind = if kind == "file" { Kind::File } else { Kind::Text };
            if kind == Kind::File && file.is_none() {
                continue; // the file was deleted by its uploader
            }
            out.push(ChatMessage {
                id: MessageId(id),
                from: Person { nick: from, name: from_name },
                to: to_nick.and_then(|t| EndpointId::new(t).ok()),
                kind,
                text,
                file,
                created_at,
                edited_at,
                client_id: None,
            });
        }
        Ok(out)
    })
    .await
}

/// Who may see message `id` (its private target, if any), after checking that `nick` sent
/// it: another's message is 403, a missing one 404.
fn check_own(c: &rusqlite::Connection, room: &str, nick: &str, id: MessageId) -> Result<Option<EndpointId>, Error> {
    let row: Option<(String, Option<String>)> = c
        .query_row(
            "SELECT from_nick, to_nick FROM messages WHERE id = ?1 AND room = ?2 AND deleted = 0",
            params![id.0, room],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    match row {
        None => Err(Error::NotFound(format!("no message {} in this room", id.0))),
        Some((from, _)) if from != nick => Err(Error::Forbidden("you can only change your own messages".into())),
        Some((_, to)) => Ok(to.and_then(|t| EndpointId::new(t).ok())),
    }
}

pub async fn edit(
    db: &Db,
    room: String,
    nick: EndpointId,
    id: MessageId,
    text: String,
) -> Result<(Option<EndpointId>, i64), Error> {
    db.call(move |c| {
        let to = check_own(c, &room, nick.as_str(), id)?;
        let now = now_ms();
        let n = c.execute(
            "UPDATE messages SET text = ?4, edited_at = ?5 WHERE id = ?1 AND room = ?2 AND from_nick = ?3 AND kind = 'text' AND deleted = 0",
            params![id.0, room, nick.as_str(), text, now],
        )?;
        if n == 0 {
            return Err(Error::BadRequest("only text messages can be edited".into()));
        }
        Ok((to, now))
    })
    .await
}

pub async fn delete(db: &Db, room: String, nick: EndpointId, id: MessageId) -> Result<Option<EndpointId>, Error> {
    db.call(move |c| {
        let to = check_own(c, &room, nick.as_str(), id)?;
        c.execute(
            "UPDATE messages SET deleted = 1, text = '' WHERE id = ?1 AND room = ?2 AND from_nick = ?3",
            params![id.0, room, nick.as_str()],
        )?;
        Ok(to)
    })
    .await
}

/// A finished file of `room`, for a file message.
pub async fn room_file(db: &Db, room: String, file_id: String) -> Result<FileRow, Error> {
    db.call(move |c| {
        let f = store::get_file(c, &file_id)?.ok_or_else(|| Error::NotFound("no such finished file".into()))?;
        if f.room != room {
            return Err(Error::Forbidden("that file belongs to another room".into()));
        }
        Ok(f)
    })
    .await
}

/// The room has someone connected: it is not ending.
pub fn room_active(db: &Db, room: String) {
    db.submit(move |c| {
        c.execute(
            "INSERT INTO rooms (room, ended_at) VALUES (?1, NULL) ON CONFLICT(room) DO UPDATE SET ended_at = NULL",
            [room],
        )?;
        Ok(())
    });
}

/// The last chat connection left: retention starts counting.
pub fn room_ended(db: &Db, room: String) {
    db.submit(move |c| {
        c.execute(
            "INSERT INTO rooms (room, ended_at) VALUES (?1, ?2) ON CONFLICT(room) DO UPDATE SET ended_at = ?2",
            params![room, now_ms()],
        )?;
        Ok(())
    });
}
