//! Any bytes as an `If-Match` header: a version that prints back as its ETag, or 412/428.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| driving_rest::fuzzing::if_match(bytes));
