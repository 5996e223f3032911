//! What a cached read pays to decode: a session and a todo in the compact form, against the
//! JSON with RFC 3339 times that earlier releases stored. Each side ends in the same checked
//! domain value, so the difference is the encoding alone.
//!
//! `cargo bench -p driven-records --bench encoding`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use chrono::{Duration, TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use domain::{
    session::{Session, SessionToken, TOKEN_BYTES},
    todo::{Description, DueDate, NewTodo, Tag, Tags, Title, Todo, TodoId},
    user::{Role, UserId},
};
use driven_records::{
    SessionRecord, TodoRecord,
    compact::{self, Decoded},
};
use uuid::Uuid;

fn todo() -> Todo {
    let now = Utc.with_ymd_and_hms(2026, 12, 2, 7, 0, 0).unwrap();
    Todo::create(
        TodoId::from_uuid(Uuid::now_v7()),
        UserId::from_uuid(Uuid::now_v7()),
        NewTodo {
            title: Title::new("Renew the passport").unwrap(),
            description: Some(Description::new("Photos first; the office closes at 4").unwrap()),
            due_date: DueDate::parse("2026-12-20").ok(),
            tags: Tags::new([Tag::new("errands").unwrap(), Tag::new("travel").unwrap()]).unwrap(),
        },
        now,
    )
}

fn session() -> Session {
    let now = Utc.with_ymd_and_hms(2026, 12, 2, 7, 0, 0).unwrap();
    Session {
        token_hash: SessionToken::from_bytes([9; TOKEN_BYTES]).hash(),
        user_id: UserId::from_uuid(Uuid::now_v7()),
        role: Role::Member,
        created_at: now,
        expires_at: now + Duration::days(1),
    }
}

fn decode(c: &mut Criterion) {
    let todo = todo();
    let json = serde_json::to_vec(&TodoRecord::from(&todo)).unwrap();
    let bytes = compact::encode_todo(&todo);
    let mut group = c.benchmark_group("decode todo");
    group.bench_function("json", |b| {
        b.iter(|| {
            let record: TodoRecord = serde_json::from_slice(black_box(&json)).unwrap();
            Todo::try_from(record).unwrap()
        });
    });
    group.bench_function("compact", |b| {
        b.iter(|| match compact::decode_todo(black_box(&bytes)).unwrap() {
            Decoded::Value(todo) => todo,
            Decoded::UnknownFormat(_) => unreachable!(),
        });
    });
    group.finish();

    let session = session();
    let json = serde_json::to_vec(&SessionRecord::from(&session)).unwrap();
    let bytes = compact::encode_session(&session);
    let mut group = c.benchmark_group("decode session");
    group.bench_function("json", |b| {
        b.iter(|| {
            let record: SessionRecord = serde_json::from_slice(black_box(&json)).unwrap();
            record.into_session(session.token_hash).unwrap()
        });
    });
    group.bench_function("compact", |b| {
        b.iter(
            || match compact::decode_session(black_box(&bytes), session.token_hash).unwrap() {
                Decoded::Value(session) => session,
                Decoded::UnknownFormat(_) => unreachable!(),
            },
        );
    });
    group.finish();
}

fn encode(c: &mut Criterion) {
    let todo = todo();
    let mut group = c.benchmark_group("encode todo");
    group.bench_function("json", |b| {
        b.iter(|| serde_json::to_vec(&TodoRecord::from(black_box(&todo))).unwrap());
    });
    group.bench_function("compact", |b| {
        b.iter(|| compact::encode_todo(black_box(&todo)));
    });
    group.finish();
}

criterion_group!(benches, decode, encode);
criterion_main!(benches);
