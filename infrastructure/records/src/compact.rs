//! The compact binary form of the records that Redis keeps: sessions and cached todos.
//!
//! Both are read on almost every request, so their encoding is on the hot path. JSON costs
//! a text parse, and each RFC 3339 time another one. This form is one format byte, then the
//! record in [postcard](https://docs.rs/postcard) (varints, length-prefixed strings, ids as
//! 16 raw bytes), with every time as whole seconds and nanoseconds since the epoch: nothing
//! to parse but integers.
//!
//! The first byte names the format:
//! - [`FORMAT`] is this one. A change of layout takes a new number, so that a value written
//!   by one release can never be misread by another.
//! - `{` is the JSON that earlier releases wrote; it is still read, so that upgrading does
//!   not log anyone out.
//! - Any other byte is a format this release does not know (written by a newer one):
//!   [`Decoded::UnknownFormat`]. The caller treats it as a miss, never as corrupt data.
//!
//! Decoding still goes through the domain's constructors: what Redis holds comes from
//! outside this process, and checking a title or a tag costs little next to the round trip
//! that client-side caching saves.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use domain::{
    session::{Session, SessionTokenHash},
    todo::Todo,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{CorruptRecord, SessionRecord, TodoRecord};

/// The format byte of the current layout.
pub const FORMAT: u8 = 1;

/// The first byte of a JSON object: the format of earlier releases.
const LEGACY_JSON: u8 = b'{';

/// What a stored value turned out to be.
#[derive(Debug, PartialEq)]
pub enum Decoded<T> {
    /// A value in a format this release reads.
    Value(T),
    /// A value in a format this release does not know: treat it as absent.
    UnknownFormat(u8),
}

/// A todo in the compact form.
pub fn encode_todo(todo: &Todo) -> Vec<u8> {
    let s = todo.snapshot();
    let tags: Vec<&str> = s.tags.iter().map(|t| t.as_str()).collect();
    encode(&CompactTodo {
        id: s.id.as_uuid(),
        owner_id: s.owner.as_uuid(),
        title: s.title.as_str(),
        description: s.description.as_ref().map(|d| d.as_str()),
        tags,
        due_date: s.due_date.map(|d| d.get().num_days_from_ce()),
        completed_at: s.completed_at.map(Instant::from),
        version: s.version.get(),
        created_at: s.created_at.into(),
        updated_at: s.updated_at.into(),
    })
}

/// The todo in `bytes`, in either format this release reads.
///
/// # Errors
/// [`CorruptRecord`] when the bytes do not decode, or decode to a todo that breaks a rule.
pub fn decode_todo(bytes: &[u8]) -> Result<Decoded<Todo>, CorruptRecord> {
    let record = match bytes.first() {
        Some(&FORMAT) => {
            let c: CompactTodo<'_> = decode(bytes, "todo")?;
            TodoRecord {
                id: c.id,
                owner_id: c.owner_id,
                title: c.title.to_owned(),
                description: c.description.map(str::to_owned),
                tags: c.tags.into_iter().map(str::to_owned).collect(),
                due_date: c
                    .due_date
                    .map(|days| {
                        NaiveDate::from_num_days_from_ce_opt(days).ok_or(undecodable("todo"))
                    })
                    .transpose()?,
                completed_at: c.completed_at.map(Instant::time).transpose()?,
                version: c.version,
                created_at: c.created_at.time()?,
                updated_at: c.updated_at.time()?,
            }
        }
        Some(&LEGACY_JSON) => json(bytes, "todo")?,
        Some(&other) => return Ok(Decoded::UnknownFormat(other)),
        None => return Err(undecodable("todo")),
    };
    Todo::try_from(record).map(Decoded::Value)
}

/// A session in the compact form. The token hash is the key it is stored under, so it is
/// not part of the value.
pub fn encode_session(session: &Session) -> Vec<u8> {
    encode(&CompactSession {
        user_id: session.user_id.as_uuid(),
        role: session.role.as_str(),
        created_at: session.created_at.into(),
        expires_at: session.expires_at.into(),
    })
}

/// The session stored under `token_hash`, from `bytes` in either format this release reads.
///
/// # Errors
/// [`CorruptRecord`] when the bytes do not decode, or name an unknown role.
pub fn decode_session(
    bytes: &[u8],
    token_hash: SessionTokenHash,
) -> Result<Decoded<Session>, CorruptRecord> {
    let record = match bytes.first() {
        Some(&FORMAT) => {
            let c: CompactSession<'_> = decode(bytes, "session")?;
            SessionRecord {
                user_id: c.user_id,
                role: c.role.to_owned(),
                created_at: c.created_at.time()?,
                expires_at: c.expires_at.time()?,
            }
        }
        Some(&LEGACY_JSON) => json(bytes, "session")?,
        Some(&other) => return Ok(Decoded::UnknownFormat(other)),
        None => return Err(undecodable("session")),
    };
    record.into_session(token_hash).map(Decoded::Value)
}

/// The layout of [`FORMAT`] 1 for a todo. Field order is part of the format: postcard
/// writes fields in order, without names.
#[derive(Serialize, Deserialize)]
struct CompactTodo<'a> {
    id: Uuid,
    owner_id: Uuid,
    title: &'a str,
    description: Option<&'a str>,
    #[serde(borrow)]
    tags: Vec<&'a str>,
    /// Days from 0001-01-01, that day being 1 (chrono's `num_days_from_ce`).
    due_date: Option<i32>,
    completed_at: Option<Instant>,
    version: i64,
    created_at: Instant,
    updated_at: Instant,
}

/// The layout of [`FORMAT`] 1 for a session.
#[derive(Serialize, Deserialize)]
struct CompactSession<'a> {
    user_id: Uuid,
    role: &'a str,
    created_at: Instant,
    expires_at: Instant,
}

/// A point in time as seconds and nanoseconds since the epoch: exact, and two varints.
#[derive(Clone, Copy, Serialize, Deserialize)]
struct Instant {
    secs: i64,
    nanos: u32,
}

impl From<DateTime<Utc>> for Instant {
    fn from(time: DateTime<Utc>) -> Self {
        Self {
            secs: time.timestamp(),
            nanos: time.timestamp_subsec_nanos(),
        }
    }
}

impl Instant {
    fn time(self) -> Result<DateTime<Utc>, CorruptRecord> {
        DateTime::from_timestamp(self.secs, self.nanos).ok_or(undecodable("time"))
    }
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising into a Vec cannot fail: every field is a plain value, a string or a
    // sequence of known length, and a Vec grows as needed.
    postcard::to_extend(value, vec![FORMAT]).unwrap_or_default()
}

fn decode<'a, T: Deserialize<'a>>(
    bytes: &'a [u8],
    entity: &'static str,
) -> Result<T, CorruptRecord> {
    match postcard::take_from_bytes(&bytes[1..]) {
        Ok((value, [])) => Ok(value),
        // Trailing bytes mean another layout under the same format byte: corrupt.
        Ok(_) | Err(_) => Err(undecodable(entity)),
    }
}

fn json<T: for<'de> Deserialize<'de>>(
    bytes: &[u8],
    entity: &'static str,
) -> Result<T, CorruptRecord> {
    serde_json::from_slice(bytes).map_err(|_| undecodable(entity))
}

fn undecodable(entity: &'static str) -> CorruptRecord {
    CorruptRecord {
        entity,
        id: Uuid::nil(),
        field: "encoding",
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Timelike};
    use domain::{
        session::SessionToken,
        todo::{Description, DueDate, NewTodo, Tag, Tags, Title, TodoId},
        user::{Role, UserId},
    };

    use super::*;

    fn todo() -> Todo {
        let now = Utc
            .with_ymd_and_hms(2026, 3, 1, 12, 0, 0)
            .unwrap()
            .with_nanosecond(123_456_789)
            .unwrap();
        let mut todo = Todo::create(
            TodoId::from_uuid(Uuid::now_v7()),
            UserId::from_uuid(Uuid::now_v7()),
            NewTodo {
                title: Title::new("Pay rent").unwrap(),
                description: Some(Description::new("multi\nline ✓").unwrap()),
                due_date: DueDate::parse("1969-12-31").ok(),
                tags: Tags::new([Tag::new("home").unwrap(), Tag::new("money").unwrap()]).unwrap(),
            },
            now,
        );
        todo.complete(now + chrono::Duration::nanoseconds(1));
        todo
    }

    fn session() -> Session {
        let now = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
        Session {
            token_hash: SessionToken::from_bytes([7; domain::session::TOKEN_BYTES]).hash(),
            user_id: UserId::from_uuid(Uuid::now_v7()),
            role: Role::Admin,
            created_at: now,
            expires_at: now + chrono::Duration::hours(1),
        }
    }

    #[test]
    fn a_todo_survives_the_round_trip_to_the_nanosecond() {
        let todo = todo();
        let bytes = encode_todo(&todo);
        assert_eq!(bytes[0], FORMAT);
        assert_eq!(decode_todo(&bytes).unwrap(), Decoded::Value(todo));
    }

    #[test]
    fn a_session_survives_the_round_trip() {
        let session = session();
        let bytes = encode_session(&session);
        assert_eq!(bytes[0], FORMAT);
        assert_eq!(
            decode_session(&bytes, session.token_hash).unwrap(),
            Decoded::Value(session)
        );
    }

    #[test]
    fn the_json_of_earlier_releases_is_still_read() {
        let todo = todo();
        let json = serde_json::to_vec(&TodoRecord::from(&todo)).unwrap();
        assert_eq!(decode_todo(&json).unwrap(), Decoded::Value(todo));
        let session = session();
        let json = serde_json::to_vec(&SessionRecord::from(&session)).unwrap();
        assert_eq!(
            decode_session(&json, session.token_hash).unwrap(),
            Decoded::Value(session)
        );
    }

    #[test]
    fn an_unknown_format_is_reported_as_such_not_as_corrupt() {
        let mut bytes = encode_todo(&todo());
        bytes[0] = FORMAT + 1;
        assert_eq!(
            decode_todo(&bytes).unwrap(),
            Decoded::UnknownFormat(FORMAT + 1)
        );
        let session = session();
        let mut bytes = encode_session(&session);
        bytes[0] = 0;
        assert_eq!(
            decode_session(&bytes, session.token_hash).unwrap(),
            Decoded::UnknownFormat(0)
        );
    }

    #[test]
    fn truncated_padded_or_empty_values_are_corrupt() {
        let bytes = encode_todo(&todo());
        for broken in [
            &bytes[..bytes.len() - 1],
            &[bytes.as_slice(), &[0]].concat(),
            &[FORMAT],
            &[],
            b"{not json",
        ] {
            assert!(decode_todo(broken).is_err(), "{broken:?}");
        }
    }

    #[test]
    fn a_value_that_breaks_a_domain_rule_is_corrupt() {
        let todo = todo();
        let s = todo.snapshot();
        let bytes = encode(&CompactTodo {
            id: s.id.as_uuid(),
            owner_id: s.owner.as_uuid(),
            title: "   ",
            description: None,
            tags: vec![],
            due_date: None,
            completed_at: None,
            version: 1,
            created_at: s.created_at.into(),
            updated_at: s.updated_at.into(),
        });
        let err = decode_todo(&bytes).unwrap_err();
        assert!(err.to_string().contains("title"), "{err}");
    }

    #[test]
    fn the_compact_form_is_smaller_than_json() {
        let todo = todo();
        let compact = encode_todo(&todo).len();
        let json = serde_json::to_vec(&TodoRecord::from(&todo)).unwrap().len();
        assert!(compact * 2 < json, "{compact} bytes against {json}");
    }
}
