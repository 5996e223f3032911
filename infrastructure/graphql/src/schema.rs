//! The schema and its limits. What every document must pass before it runs is
//! [`admission`](crate::admission)'s, and [`GraphqlSchema`] is what makes sure it does: the
//! async-graphql schema is private to it, and each of its ways to run a document goes
//! through the gate first.

use std::sync::Arc;

use application::UseCases;
use async_graphql::{Request, Response, Schema};
use futures_util::{Stream, StreamExt, stream};

use crate::{
    admission::{Admission, Transport},
    mutation::Mutation,
    query::Query,
    settings::GraphqlSettings,
    subscription::Subscription,
};

/// The schema behind its gate. Cloning it is cheap: both halves are shared.
#[derive(Clone)]
pub struct GraphqlSchema {
    schema: Schema<Query, Mutation, Subscription>,
    gate: Admission,
}

impl std::fmt::Debug for GraphqlSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphqlSchema").finish_non_exhaustive()
    }
}

/// One answer, and whether its document ran: `false` when it was refused before it ran
/// (by the gate or by async-graphql's own checks), which the transports answer as a bad
/// request rather than as an answer with field errors.
pub(crate) struct Ran {
    pub(crate) response: Response,
    pub(crate) admitted: bool,
}

impl GraphqlSchema {
    /// Runs a query or a mutation. A request run this way says no transport, so it may run
    /// any operation: this is for tests and tools that call the schema directly.
    pub async fn execute(&self, request: impl Into<Request>) -> Response {
        self.run(request.into(), None).await.response
    }

    /// Runs a query or a mutation that came in over `transport`.
    pub(crate) async fn run(&self, request: Request, transport: Option<Transport>) -> Ran {
        let request = match self.gate.admit(request, transport) {
            Ok(request) => request,
            Err(refusal) => return refused(refusal),
        };
        let mut response = self.schema.execute(request).await;
        let admitted = Admission::settle(&mut response);
        Ran { response, admitted }
    }

    /// Runs a subscription that came in over `transport`: each event's answer, or one
    /// refusal.
    pub(crate) fn run_stream(
        &self,
        request: Request,
        transport: Option<Transport>,
    ) -> impl Stream<Item = Ran> + Send + 'static {
        match self.gate.admit(request, transport) {
            Ok(request) => self
                .schema
                .execute_stream(request)
                .map(|mut response| {
                    let admitted = Admission::settle(&mut response);
                    Ran { response, admitted }
                })
                .left_stream(),
            Err(refusal) => stream::once(async move { refused(refusal) }).right_stream(),
        }
    }
}

/// The answer to a request the gate refused.
fn refused(refusal: async_graphql::ServerError) -> Ran {
    Ran {
        response: Response::from_errors(vec![refusal]),
        admitted: false,
    }
}

/// The schema over `use_cases`, with `settings`' limits, behind the gate of
/// [`admission`](crate::admission). Batched requests are not served: the HTTP handler
/// accepts one operation per request.
pub fn build_schema(use_cases: Arc<UseCases>, settings: &GraphqlSettings) -> GraphqlSchema {
    let mut builder = Schema::build(Query, Mutation, Subscription)
        .data(use_cases)
        .limit_depth(settings.max_depth)
        .limit_complexity(settings.max_complexity);
    if !settings.introspection {
        builder = builder.disable_introspection();
    }
    GraphqlSchema {
        schema: builder.finish(),
        gate: Admission::new(settings.max_query_bytes, settings.introspection),
    }
}

/// The schema in SDL: the contract checked in as `schema.graphql`.
pub fn sdl() -> String {
    Schema::build(Query, Mutation, Subscription).finish().sdl()
}
