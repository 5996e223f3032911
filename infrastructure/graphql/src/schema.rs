//! The schema, its limits, and the request-level error codes.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use application::UseCases;
use async_graphql::{
    Schema, ServerError, ServerResult, ValidationResult, Variables,
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextValidation,
    },
    parser::types::{ExecutableDocument, Selection, SelectionSet},
};

use crate::{error::codes, mutation::Mutation, query::Query, subscription::Subscription};

/// The schema type: queries and mutations (subscriptions arrive with live updates).
pub type GraphqlSchema = Schema<Query, Mutation, Subscription>;

/// The limits of one GraphQL request, from configuration.
#[derive(Debug, Clone)]
pub struct GraphqlSettings {
    /// The deepest a selection may nest. GraphiQL's introspection query needs 13.
    pub max_depth: usize,
    /// The most a query may cost: one per field, times `first` for each connection.
    pub max_complexity: usize,
    /// The longest query text accepted, in bytes.
    pub max_query_bytes: usize,
    /// Whether clients may introspect the schema (GraphiQL's docs explorer needs it).
    pub introspection: bool,
}

impl Default for GraphqlSettings {
    fn default() -> Self {
        Self {
            max_depth: 15,
            max_complexity: 2_500,
            max_query_bytes: 16 * 1024,
            introspection: true,
        }
    }
}

/// The schema over `use_cases`, with `settings`' limits. Batched requests are not served:
/// the HTTP handler accepts one operation per request.
pub fn build_schema(use_cases: Arc<UseCases>, settings: &GraphqlSettings) -> GraphqlSchema {
    let mut builder = Schema::build(Query, Mutation, Subscription)
        .data(use_cases)
        .limit_depth(settings.max_depth)
        .limit_complexity(settings.max_complexity)
        .extension(RequestErrorCodes {
            introspection: settings.introspection,
        });
    if !settings.introspection {
        builder = builder.disable_introspection();
    }
    builder.finish()
}

/// The schema in SDL: the contract checked in as `schema.graphql`.
pub fn sdl() -> String {
    Schema::build(Query, Mutation, Subscription).finish().sdl()
}

/// Set in a request's data by the HTTP handler; the extension flips it once execution
/// starts. A response with errors whose execution never started was refused as a request
/// (it did not parse or validate): GraphQL over HTTP answers those 400.
#[derive(Debug, Default, Clone)]
pub(crate) struct ExecutionStarted(pub(crate) Arc<AtomicBool>);

impl ExecutionStarted {
    pub(crate) fn happened(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Gives the errors of a refused request their codes, refuses introspection when it is
/// off (async-graphql would silently answer `null`), and records when execution starts.
#[derive(Clone, Copy)]
struct RequestErrorCodes {
    introspection: bool,
}

impl ExtensionFactory for RequestErrorCodes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(*self)
    }
}

/// Whether a root selection of `document` asks for `__schema` or `__type`.
fn asks_for_introspection(document: &ExecutableDocument) -> bool {
    fn selects(document: &ExecutableDocument, set: &SelectionSet) -> bool {
        set.items.iter().any(|item| match &item.node {
            Selection::Field(field) => {
                matches!(field.node.name.node.as_str(), "__schema" | "__type")
            }
            Selection::InlineFragment(fragment) => {
                selects(document, &fragment.node.selection_set.node)
            }
            Selection::FragmentSpread(spread) => document
                .fragments
                .get(&spread.node.fragment_name.node)
                .is_some_and(|fragment| selects(document, &fragment.node.selection_set.node)),
        })
    }
    document
        .operations
        .iter()
        .any(|(_, operation)| selects(document, &operation.node.selection_set.node))
}

/// `code` on every error of `errors`.
fn with_code(
    mut errors: Vec<ServerError>,
    code: impl Fn(&ServerError) -> &'static str,
) -> Vec<ServerError> {
    for error in &mut errors {
        let code = code(error);
        error
            .extensions
            .get_or_insert_with(Default::default)
            .set("code", code);
    }
    errors
}

#[async_graphql::async_trait::async_trait]
impl Extension for RequestErrorCodes {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await.map_err(|mut error| {
            // The parser refuses nesting past 32 levels before the depth limit can look.
            let code = if error.message.contains("recursion limit")
                || error.message.contains("recursion depth")
            {
                codes::QUERY_TOO_DEEP
            } else {
                codes::MALFORMED_REQUEST
            };
            error
                .extensions
                .get_or_insert_with(Default::default)
                .set("code", code);
            error
        })?;
        if !self.introspection && asks_for_introspection(&document) {
            let mut error = ServerError::new("introspection is disabled on this server", None);
            error
                .extensions
                .get_or_insert_with(Default::default)
                .set("code", codes::INTROSPECTION_DISABLED);
            return Err(error);
        }
        Ok(document)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        // async-graphql reports its limits with these messages; a test pins them, so a
        // change in the library fails loudly instead of losing the codes.
        next.run(ctx).await.map_err(|errors| {
            with_code(errors, |error| {
                if error.message.contains("nested too deep") {
                    codes::QUERY_TOO_DEEP
                } else if error.message.contains("too complex") {
                    codes::QUERY_TOO_COMPLEX
                } else {
                    codes::MALFORMED_REQUEST
                }
            })
        })
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> async_graphql::Response {
        if let Some(started) = ctx.data_opt::<ExecutionStarted>() {
            started.0.store(true, Ordering::Relaxed);
        }
        next.run(ctx, operation_name).await
    }
}
