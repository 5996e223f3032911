//! The schema and its limits. What every document must pass before it runs is
//! [`admission`](crate::admission)'s.

use std::sync::Arc;

use application::UseCases;
use async_graphql::Schema;

use crate::{
    admission::Admission, mutation::Mutation, query::Query, settings::GraphqlSettings,
    subscription::Subscription,
};

/// The schema type: queries and mutations (subscriptions arrive with live updates).
pub type GraphqlSchema = Schema<Query, Mutation, Subscription>;

/// The schema over `use_cases`, with `settings`' limits, behind the gate of
/// [`admission`](crate::admission). Batched requests are not served: the HTTP handler
/// accepts one operation per request.
pub fn build_schema(use_cases: Arc<UseCases>, settings: &GraphqlSettings) -> GraphqlSchema {
    let mut builder = Schema::build(Query, Mutation, Subscription)
        .data(use_cases)
        .limit_depth(settings.max_depth)
        .limit_complexity(settings.max_complexity)
        .extension(Admission::new(
            settings.max_query_bytes,
            settings.introspection,
        ));
    if !settings.introspection {
        builder = builder.disable_introspection();
    }
    builder.finish()
}

/// The schema in SDL: the contract checked in as `schema.graphql`.
pub fn sdl() -> String {
    Schema::build(Query, Mutation, Subscription).finish().sdl()
}
