//! Any string as the query of `GET /v1/todos` and `GET /v1/users` (`status`, `tag`,
//! `cursor`, `limit`): no panic, and every refusal a 4xx problem.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|query: &str| driving_rest::fuzzing::list_queries(query));
