//! The one gate every GraphQL document passes before it runs, whichever way it came in
//! (`POST /graphql`, `GET /graphql` or the WebSocket). It lives inside
//! [`GraphqlSchema`](crate::GraphqlSchema), which keeps the async-graphql schema private and
//! whose only ways to run a document go through [`Admission::admit`] first, so no transport
//! can execute a document without passing it; each transport only says which it is.
//!
//! Why not an async-graphql extension: with any extension registered, async-graphql runs
//! every field of every answer through the extension chain (a registry lookup and a boxed
//! future per field), which cost GraphQL more CPU per request than the whole gate does.
//! Nothing here needs to see fields, so the gate wraps the schema instead.
//!
//! Before anything parses the text into a tree:
//! 1. its length (`GRAPHQL_MAX_QUERY_BYTES`): `query_too_large`;
//! 2. how deeply its brackets nest, read from the text alone ([`MAX_NESTING`]):
//!    `query_too_deep`. async-graphql's parser, its validator and the values they build
//!    recurse once per level of `[`, `{` or `(`, and only selection sets have a limit
//!    there; a few thousand levels of `[[[…` in an argument overflow a thread's stack,
//!    which aborts the whole process.
//!
//! Then, on the parsed document (kept by its text with what the checks below found in it,
//! see [`ParsedDocuments`]):
//! 3. the operation to run is found by `operationName` (`malformed_request` if there is
//!    none, which is also the answer to a name sent with a document whose one operation is
//!    anonymous), and the transport must allow its type: GET runs queries (a mutation is
//!    `method_not_allowed`), POST queries and mutations, the WebSocket subscriptions only
//!    (anything else is `operation_not_supported`);
//! 4. how much it expands to: fragments may spread other fragments many times, and every
//!    later walk of the document (async-graphql's depth and complexity checks, its
//!    validation) follows each spread again, so a kilobyte of fragments can mean 2^30
//!    selections to walk. [`MAX_SELECTIONS`]: `query_too_complex`;
//! 5. a subscription selects exactly one root field, and not an introspection one (the
//!    GraphQL spec's rule, which async-graphql does not check): `malformed_request`; a
//!    mutation at most [`MAX_MUTATION_FIELDS`], since each is a write of its own and the
//!    whole document is one request to the in-flight limit: `query_too_complex`;
//! 6. when introspection is off, `__schema` and `__type` are refused
//!    (`introspection_disabled`) rather than silently answered `null`.
//!
//! async-graphql then checks what is left (its recursion, depth and complexity limits and
//! the validation rules), and [`Admission::settle`] gives its refusals their codes and
//! tells a refused request (answered 400 over HTTP, `error` on the WebSocket) from one
//! that ran, whose errors are field errors (answered 200, `next`).

use std::sync::Arc;

use async_graphql::{
    Request, Response, ServerError, ServerResult, Value,
    parser::types::{ExecutableDocument, OperationType},
};

use crate::error::codes;

mod document;

pub use document::nesting_exceeds;
use document::{
    Expansion, asks_for_introspection, check_single_root_field, expanded_selections, operation,
    root_fields,
};

/// The deepest that `[`, `{` and `(` may nest in a document's text. A legitimate query
/// needs far fewer (GraphiQL's introspection query nests 11 deep; the selection depth limit
/// is 15 by default), and async-graphql's parser refuses selection sets past 64 itself; 64
/// levels are a few kilobytes of stack, where a tokio worker has 2 MiB.
pub const MAX_NESTING: usize = 64;

/// The most root fields a mutation may select: the most writes one request may make. A
/// client that has more to change sends more requests, each of which the in-flight limit
/// and the rate limits see.
pub const MAX_MUTATION_FIELDS: usize = 10;

/// The most selections (fields, inline fragments and fragment spreads) a document may
/// expand to once every fragment spread is replaced by its fragment. A query within the complexity limit (2,500 by default, where a
/// field costs at least 1) expands to far less; the bound is on the work of walking the
/// document, which happens before the complexity limit can be computed.
pub const MAX_SELECTIONS: u64 = 10_000;

/// How many parsed documents are kept: far more than the distinct queries a set of clients
/// sends, and a few megabytes at most.
const PARSED_DOCUMENTS: usize = 1_000;

/// The way a request came in, which decides what it may run. A request without one (a
/// test calling the schema directly) may run any operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `POST /graphql`: queries and mutations.
    Post,
    /// `GET /graphql`: queries only, because a GET must never change anything (caches,
    /// prefetchers and crawlers send GETs freely).
    Get,
    /// `/graphql/ws`: subscriptions only. Queries and mutations go over HTTP, where the
    /// in-flight limit, the request timeout and the attempt limits apply to each one.
    WebSocket,
}

impl Transport {
    /// Why `operation` may not run over this transport (its code and message), or `None`
    /// when it may.
    fn refuses(self, operation: OperationType) -> Option<(&'static str, &'static str)> {
        const SUBSCRIPTIONS_OVER_WS: &str = "subscriptions run over the WebSocket at /graphql/ws";
        match (self, operation) {
            (Self::Get, OperationType::Mutation) => Some((
                codes::METHOD_NOT_ALLOWED,
                "mutations must be sent with POST",
            )),
            (Self::Post | Self::Get, OperationType::Subscription) => {
                Some((codes::OPERATION_NOT_SUPPORTED, SUBSCRIPTIONS_OVER_WS))
            }
            (Self::WebSocket, OperationType::Query | OperationType::Mutation) => Some((
                codes::OPERATION_NOT_SUPPORTED,
                "the WebSocket carries subscriptions only: send queries and mutations with \
                 POST /graphql",
            )),
            _ => None,
        }
    }
}

/// A document as parsed, with what the checks that read the whole of it found. None of
/// that depends on the request's operation name, transport or variables, so it is worked
/// out once per distinct text.
struct Parsed {
    document: ExecutableDocument,
    /// How many selections the fragments expand to, or why they cannot be expanded.
    expansion: Result<u64, Expansion>,
    /// Whether a root field of any of its operations, through fragments, is `__schema` or
    /// `__type` (the only fields that introspect the schema, and only on `Query`).
    introspects: bool,
}

/// Documents already parsed, by query text.
///
/// Clients send the same few queries over and over (they are written in code, with
/// variables for what changes), and parsing is the largest single cost of a small query:
/// async-graphql's pest parser took 16 % of the CPU under load, more than validating and
/// executing together. Only documents that passed the checks on the text are parsed, so
/// only those are kept; bounded, so unique queries sent to fill it only evict each other.
struct ParsedDocuments(quick_cache::sync::Cache<String, Arc<Parsed>>);

/// The gate: see the module's documentation.
#[derive(Clone)]
pub(crate) struct Admission {
    max_query_bytes: usize,
    introspection: bool,
    parsed: Arc<ParsedDocuments>,
}

impl Admission {
    /// The gate with the configured limits.
    pub(crate) fn new(max_query_bytes: usize, introspection: bool) -> Self {
        Self {
            max_query_bytes,
            introspection,
            parsed: Arc::new(ParsedDocuments(quick_cache::sync::Cache::new(
                PARSED_DOCUMENTS,
            ))),
        }
    }

    /// `request` with its document parsed, or why it may not run over `transport`.
    pub(crate) fn admit(
        &self,
        mut request: Request,
        transport: Option<Transport>,
    ) -> ServerResult<Request> {
        let query = &request.query;
        if query.len() > self.max_query_bytes {
            return Err(refusal(
                codes::QUERY_TOO_LARGE,
                format!(
                    "the query is {} bytes; the limit is {}",
                    query.len(),
                    self.max_query_bytes
                ),
            ));
        }
        if nesting_exceeds(query, MAX_NESTING) {
            return Err(refusal(
                codes::QUERY_TOO_DEEP,
                format!("brackets nest more than {MAX_NESTING} deep"),
            ));
        }
        let parsed = match self.parsed.0.get(query) {
            Some(parsed) => parsed,
            None => {
                let document = async_graphql::parser::parse_query(query).map_err(|error| {
                    let error = ServerError::from(error);
                    // The parser's own limit on nested selection sets.
                    let code = if error.message.contains("recursion limit") {
                        codes::QUERY_TOO_DEEP
                    } else {
                        codes::MALFORMED_REQUEST
                    };
                    with_code(error, code)
                })?;
                let parsed = Arc::new(Parsed {
                    expansion: expanded_selections(&document, MAX_SELECTIONS),
                    introspects: asks_for_introspection(&document),
                    document,
                });
                self.parsed.0.insert(query.clone(), parsed.clone());
                parsed
            }
        };
        let document = &parsed.document;
        let operation = operation(document, request.operation_name.as_deref())?;
        if let Some((code, why)) = transport.and_then(|t| t.refuses(operation.ty)) {
            return Err(refusal(code, why.to_owned()));
        }
        match parsed.expansion {
            Ok(_) => {}
            Err(Expansion::TooLarge) => {
                return Err(refusal(
                    codes::QUERY_TOO_COMPLEX,
                    format!("the fragments expand to more than {MAX_SELECTIONS} selections"),
                ));
            }
            Err(Expansion::Cycle) => {
                return Err(refusal(
                    codes::MALFORMED_REQUEST,
                    "a fragment spreads itself, through others or directly".to_owned(),
                ));
            }
        }
        match operation.ty {
            OperationType::Subscription => {
                check_single_root_field(document, &operation.selection_set.node)?;
            }
            OperationType::Mutation => {
                let fields = root_fields(document, &operation.selection_set.node).len();
                if fields > MAX_MUTATION_FIELDS {
                    return Err(refusal(
                        codes::QUERY_TOO_COMPLEX,
                        format!(
                            "the mutation makes {fields} changes; the most one request may \
                             make is {MAX_MUTATION_FIELDS}"
                        ),
                    ));
                }
            }
            OperationType::Query => {}
        }
        if !self.introspection && parsed.introspects {
            return Err(refusal(
                codes::INTROSPECTION_DISABLED,
                "introspection is disabled on this server".to_owned(),
            ));
        }
        // async-graphql takes the document by value (it strips `@skip`ped selections in
        // place), so each request runs on its own copy: still far cheaper than a parse.
        request.set_parsed_query(parsed.document.clone());
        Ok(request)
    }

    /// Whether async-graphql ran `response`'s document (`true`) or refused it before it ran
    /// (`false`), with every error given a code.
    ///
    /// What async-graphql refuses after the gate (its recursion, depth and complexity
    /// limits, the validation rules) it answers with no data and errors that point at no
    /// field. Everything that goes wrong while a document runs is a field error, which
    /// carries the path of its field: a root field's error has at least that field's name,
    /// even when it nulls the whole of `data`. A test pins both.
    ///
    /// The resolvers give their errors a code (`error::to_graphql`); one that async-graphql
    /// raises itself while running (a variable used but not defined, say) has none, and is
    /// `malformed_request`, as a refusal is.
    pub(crate) fn settle(response: &mut Response) -> bool {
        let refused = response.data == Value::Null
            && !response.errors.is_empty()
            && response.errors.iter().all(|error| error.path.is_empty());
        for error in &mut response.errors {
            let code = if refused {
                refusal_code(&error.message)
            } else {
                codes::MALFORMED_REQUEST
            };
            let extensions = error.extensions.get_or_insert_with(Default::default);
            if extensions.get("code").is_none() {
                extensions.set("code", code);
            }
        }
        !refused
    }
}

/// The code of one of async-graphql's own refusals, by its message. async-graphql reports
/// its limits with these exact messages; a test pins them, so a change in the library
/// fails loudly instead of losing the codes.
fn refusal_code(message: &str) -> &'static str {
    if message == "Query is nested too deep."
        || message.starts_with("The recursion depth of the query cannot be greater than")
    {
        codes::QUERY_TOO_DEEP
    } else if message == "Query is too complex." {
        codes::QUERY_TOO_COMPLEX
    } else {
        codes::MALFORMED_REQUEST
    }
}

/// An error with `code` in its extensions.
fn with_code(mut error: ServerError, code: &'static str) -> ServerError {
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", code);
    error
}

/// A refusal of the whole request.
fn refusal(code: &'static str, message: String) -> ServerError {
    with_code(ServerError::new(message, None), code)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn parse(query: &str) -> ExecutableDocument {
        async_graphql::parser::parse_query(query).unwrap()
    }

    #[test]
    fn nesting_counts_every_bracket_outside_strings_and_comments() {
        let deep = |n: usize| {
            format!(
                "{{ todos(tag: {}\"x\"{}) {{ id }} }}",
                "[".repeat(n),
                "]".repeat(n)
            )
        };
        // `{`, `(` and n `[`: n + 2 levels.
        assert!(!nesting_exceeds(&deep(62), 64));
        assert!(nesting_exceeds(&deep(63), 64));
        assert!(nesting_exceeds(&deep(100_000), 64));
        let objects = format!("{{ f(a: {}1{}) }}", "{a:".repeat(100), "}".repeat(100));
        assert!(nesting_exceeds(&objects, 64));
        // Brackets in strings, block strings and comments are text.
        let quoted = format!(
            "{{ f(a: \"{0}\", b: \"\"\"{0}\\\"\"\"{0}\"\"\") }} # {0}\n",
            "[".repeat(100)
        );
        assert!(!nesting_exceeds(&quoted, 64), "{quoted}");
        // An escaped quote does not end a string; a line break does, and so what follows
        // it counts.
        let escaped = format!("{{ f(a: \"\\\"{}\") }}", "[".repeat(100));
        assert!(!nesting_exceeds(&escaped, 64));
        let broken = format!("{{ f(a: \"\\\n{}", "[".repeat(100));
        assert!(nesting_exceeds(&broken, 64));
    }

    #[test]
    fn fragments_that_spread_each_other_twice_over_are_counted_expanded() {
        let mut query = String::from("query { ...F0 }\n");
        for i in 0..30 {
            query.push_str(&format!(
                "fragment F{i} on Query {{ ...F{} ...F{} }}\n",
                i + 1,
                i + 1
            ));
        }
        query.push_str("fragment F30 on Query { me { id } }\n");
        assert_eq!(
            expanded_selections(&parse(&query), MAX_SELECTIONS),
            Err(Expansion::TooLarge)
        );
        let small = "query { ...A me { id } } fragment A on Query { me { id ...B } } \
                     fragment B on User { email }";
        // Three in the operation (the spread, `me`, `id`), three in A, one in B.
        assert_eq!(expanded_selections(&parse(small), MAX_SELECTIONS), Ok(7));
        // A cycle, which validation refuses, is refused here without looping.
        let cycle = "query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }";
        assert_eq!(
            expanded_selections(&parse(cycle), MAX_SELECTIONS),
            Err(Expansion::Cycle)
        );
    }

    #[test]
    fn a_fan_out_that_selects_no_field_is_counted_too() {
        // Twelve spreads of the next fragment, eight deep, ending in a fragment that does
        // not exist: no field anywhere, and 12^8 steps for every walk.
        let mut query = String::from("query { ...F0 }\n");
        for i in 0..8 {
            query.push_str(&format!("fragment F{i} on Query {{ "));
            for _ in 0..12 {
                query.push_str(&format!("...F{} ", i + 1));
            }
            query.push_str("}\n");
        }
        query.push_str("fragment F8 on Query { ...Nope }\n");
        assert_eq!(
            expanded_selections(&parse(&query), MAX_SELECTIONS),
            Err(Expansion::TooLarge)
        );
        // The same with inline fragments only.
        let mut query = String::from("query { ...G0 }\n");
        for i in 0..8 {
            query.push_str(&format!("fragment G{i} on Query {{ "));
            for _ in 0..12 {
                query.push_str(&format!("... on Query {{ ...G{} }} ", i + 1));
            }
            query.push_str("}\n");
        }
        query.push_str("fragment G8 on Query { ... on Query { __typename } }\n");
        assert_eq!(
            expanded_selections(&parse(&query), MAX_SELECTIONS),
            Err(Expansion::TooLarge)
        );
    }

    #[test]
    fn an_operation_name_picks_a_named_operation_and_never_an_anonymous_one() {
        let picked = |query: &str, name: Option<&str>| {
            operation(&parse(query), name)
                .map(|operation| operation.selection_set.node.items.len())
                .map_err(|error| error.message)
        };
        assert_eq!(picked("{ a b }", None), Ok(2));
        assert_eq!(
            picked("{ a b }", Some("X")),
            Err("the document has no operation named \"X\"".to_owned())
        );
        assert!(picked("{ a b }", Some("")).is_err());
        assert_eq!(picked("query X { a }", Some("X")), Ok(1));
        assert_eq!(picked("query X { a }", None), Ok(1));
        assert!(picked("query X { a } query Y { a b }", None).is_err());
        assert_eq!(picked("query X { a } query Y { a b }", Some("Y")), Ok(2));
    }

    #[test]
    fn a_subscription_has_exactly_one_root_field() {
        let check = |query: &str| {
            let document = parse(query);
            let operation = operation(&document, None).unwrap();
            check_single_root_field(&document, &operation.selection_set.node).is_ok()
        };
        assert!(check("subscription { todoEvents { eventId } }"));
        assert!(check(
            "subscription { a: todoEvents { eventId } a: todoEvents { type } }"
        ));
        assert!(!check(
            "subscription { a: todoEvents { eventId } b: todoEvents { eventId } }"
        ));
        assert!(!check(
            "subscription { todoEvents { eventId } ...F } fragment F on Subscription { b: todoEvents { eventId } }"
        ));
        assert!(!check("subscription { __typename }"));
        // Fragments that spread each other are read once each.
        assert!(check(
            "subscription { ...F } fragment F on Subscription { todoEvents { eventId } ...G } \
             fragment G on Subscription { ...F }"
        ));
    }

    /// A schema of its own, so that what is pinned here is async-graphql's behaviour and
    /// not this API's.
    mod pinned {
        use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema};

        pub(super) struct Query;

        #[Object]
        impl Query {
            async fn leaf(&self) -> i32 {
                1
            }
            async fn nested(&self) -> Query {
                Query
            }
            async fn fails(&self) -> async_graphql::Result<i32> {
                Err("no".into())
            }
            async fn echo(&self, n: Option<i32>) -> Option<i32> {
                n
            }
        }

        pub(super) fn schema() -> Schema<Query, EmptyMutation, EmptySubscription> {
            Schema::build(Query, EmptyMutation, EmptySubscription)
                .limit_depth(20)
                .limit_complexity(100)
                .finish()
        }
    }

    async fn settled(query: &str) -> (bool, Option<String>) {
        let mut response = pinned::schema().execute(query).await;
        let ran = Admission::settle(&mut response);
        let code = response.errors.first().and_then(|error| {
            match error.extensions.as_ref()?.get("code")? {
                Value::String(code) => Some(code.clone()),
                _ => None,
            }
        });
        (ran, code)
    }

    #[tokio::test]
    async fn async_graphqls_own_refusals_are_told_from_field_errors_and_get_their_codes() {
        let nest = |levels: usize| {
            (0..levels).fold("leaf".to_owned(), |inner, _| {
                format!("nested {{ {inner} }}")
            })
        };
        let many = |n: usize| {
            format!(
                "{{ {} }}",
                (0..n).map(|i| format!("f{i}: leaf ")).collect::<String>()
            )
        };
        // Past the depth limit (20), past the recursion limit (32), past the complexity
        // limit (100, a field costing 1), and not valid: refused before running, each with
        // its code.
        for (query, code) in [
            (format!("{{ {} }}", nest(25)), codes::QUERY_TOO_DEEP),
            (format!("{{ {} }}", nest(40)), codes::QUERY_TOO_DEEP),
            (many(101), codes::QUERY_TOO_COMPLEX),
            ("{ nope }".to_owned(), codes::MALFORMED_REQUEST),
            (
                "query A { leaf } query B { leaf }".to_owned(),
                codes::MALFORMED_REQUEST,
            ),
        ] {
            assert_eq!(
                settled(&query).await,
                (false, Some(code.to_owned())),
                "{query}"
            );
        }
        // A root field that fails nulls the whole of `data` (it is not nullable), yet the
        // document ran: its error points at its field. Raised with no code (this schema's
        // resolvers set none), it gets the generic one.
        let ran = Some(codes::MALFORMED_REQUEST.to_owned());
        assert_eq!(settled("{ fails }").await, (true, ran.clone()));
        assert_eq!(settled("{ leaf fails }").await, (true, ran.clone()));
        assert_eq!(settled(&many(100)).await, (true, None));
        // An error async-graphql raises while running (a variable that was never sent): the
        // document ran, and the error has a code too.
        assert_eq!(
            settled("query($n: Int!) { leaf echo(n: $n) }").await,
            (true, ran.clone())
        );
    }

    #[test]
    fn introspection_is_found_through_fragments_even_cyclic_ones() {
        assert!(asks_for_introspection(&parse(
            "{ ...F } fragment F on Query { __schema { description } }"
        )));
        assert!(!asks_for_introspection(&parse(
            "{ ...F } fragment F on Query { ...G } fragment G on Query { ...F }"
        )));
    }
}
