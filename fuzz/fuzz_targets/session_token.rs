//! Decoding a bearer token, on any string: no panic, and a token that decodes prints back
//! to the same string and hashes the same way twice.
#![no_main]

use domain::session::SessionToken;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &str| {
    if let Ok(token) = SessionToken::parse(raw) {
        assert_eq!(token.expose(), raw);
        assert_eq!(token.hash(), SessionToken::parse(raw).unwrap().hash());
    }
});
