//! Any bytes as the JSON body of each REST route that takes one, decoded and parsed as the
//! handlers do: no panic, and every refusal a 4xx problem.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| driving_rest::fuzzing::request_bodies(bytes));
