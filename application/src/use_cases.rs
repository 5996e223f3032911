//! The bundle of ports the use cases are built from, and the use cases themselves.
//!
//! The composition root (`bin`) picks an adapter for every port, puts them in [`Ports`], and
//! calls [`UseCases::new`]. Driving adapters get an `Arc<UseCases>` and nothing else, so they
//! cannot reach a repository behind the use cases' back.

use std::sync::Arc;

use chrono::Duration;
use domain::ports::{
    Clock, EventFeed, IdGenerator, IdempotencyRecords, PasswordHasher, RateLimiter, ReadinessProbe,
    SessionStore, Ticker, TodoCache, TodoRepository, TokenGenerator, UnitOfWork, UserRepository,
};

use crate::{
    readiness::CheckReadiness,
    seed::SeedDemo,
    todos::{
        AddTag, CompleteTodo, CountTodos, CreateTodo, DeleteTodo, GetTodo, ListTodos, RemoveTag,
        ReopenTodo, TodoPorts, UpdateTodo, WatchLimits, WatchTodos,
    },
    users::{
        AttemptLimits, Attempts, Authenticate, CurrentUser, ListUsers, LogIn, LogOut,
        LogOutEverywhere, RegisterUser,
    },
};

/// One adapter for every driven port.
#[derive(Clone)]
pub struct Ports {
    /// Users.
    pub users: Arc<dyn UserRepository>,
    /// Todos.
    pub todos: Arc<dyn TodoRepository>,
    /// Writes that span repositories.
    pub unit_of_work: Arc<dyn UnitOfWork>,
    /// The outcomes of writes sent with an idempotency key, read outside transactions.
    pub idempotency: Arc<dyn IdempotencyRecords>,
    /// Login sessions.
    pub sessions: Arc<dyn SessionStore>,
    /// The todo read cache.
    pub todo_cache: Arc<dyn TodoCache>,
    /// Password hashing.
    pub hasher: Arc<dyn PasswordHasher>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// Periodic ticks (for the session checks of live subscriptions).
    pub ticker: Arc<dyn Ticker>,
    /// New ids.
    pub ids: Arc<dyn IdGenerator>,
    /// New session tokens.
    pub tokens: Arc<dyn TokenGenerator>,
    /// Counts of attempts (to log in, to register), for their limits.
    pub rate_limiter: Arc<dyn RateLimiter>,
    /// The live feed of todo events (the publisher's other end).
    pub events: Arc<dyn EventFeed>,
    /// One probe per backing server in use (none in memory).
    pub probes: Vec<Arc<dyn ReadinessProbe>>,
}

impl std::fmt::Debug for Ports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ports").finish_non_exhaustive()
    }
}

/// Business settings that come from configuration.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// How long a login session lasts.
    pub session_ttl: Duration,
    /// How many live subscriptions may be open at once.
    pub watch_limits: WatchLimits,
    /// How many attempts to log in and to register are allowed.
    pub attempt_limits: AttemptLimits,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            session_ttl: Duration::hours(24),
            watch_limits: WatchLimits::default(),
            attempt_limits: AttemptLimits::default(),
        }
    }
}

/// Every use case, ready to call.
#[derive(Debug)]
#[allow(missing_docs)] // Each field is documented on its type.
pub struct UseCases {
    pub register: RegisterUser,
    pub log_in: LogIn,
    pub log_out: LogOut,
    pub log_out_everywhere: LogOutEverywhere,
    pub authenticate: Authenticate,
    pub current_user: CurrentUser,
    pub list_users: ListUsers,
    pub create_todo: CreateTodo,
    pub get_todo: GetTodo,
    pub list_todos: ListTodos,
    pub update_todo: UpdateTodo,
    pub complete_todo: CompleteTodo,
    pub reopen_todo: ReopenTodo,
    pub add_tag: AddTag,
    pub remove_tag: RemoveTag,
    pub delete_todo: DeleteTodo,
    pub count_todos: CountTodos,
    pub watch_todos: WatchTodos,
    pub seed_demo: SeedDemo,
    pub readiness: CheckReadiness,
}

impl UseCases {
    /// Builds every use case from one set of adapters.
    pub fn new(ports: Ports, settings: Settings) -> Self {
        let attempts = Attempts::new(ports.rate_limiter.clone(), settings.attempt_limits);
        let todo_ports = TodoPorts {
            todos: ports.todos.clone(),
            unit_of_work: ports.unit_of_work.clone(),
            idempotency: ports.idempotency.clone(),
            cache: ports.todo_cache.clone(),
            clock: ports.clock.clone(),
            ids: ports.ids.clone(),
        };
        Self {
            register: RegisterUser::new(
                ports.users.clone(),
                ports.hasher.clone(),
                ports.clock.clone(),
                ports.ids.clone(),
                attempts.clone(),
            ),
            log_in: LogIn::new(
                ports.users.clone(),
                ports.hasher.clone(),
                ports.sessions.clone(),
                ports.tokens.clone(),
                ports.clock.clone(),
                settings.session_ttl,
                attempts,
            ),
            log_out: LogOut::new(ports.sessions.clone()),
            log_out_everywhere: LogOutEverywhere::new(ports.sessions.clone()),
            authenticate: Authenticate::new(ports.sessions.clone(), ports.clock.clone()),
            current_user: CurrentUser::new(ports.users.clone()),
            list_users: ListUsers::new(ports.users.clone()),
            create_todo: CreateTodo::new(todo_ports.clone()),
            get_todo: GetTodo::new(todo_ports.clone()),
            list_todos: ListTodos::new(todo_ports.clone()),
            update_todo: UpdateTodo::new(todo_ports.clone()),
            complete_todo: CompleteTodo::new(todo_ports.clone()),
            reopen_todo: ReopenTodo::new(todo_ports.clone()),
            add_tag: AddTag::new(todo_ports.clone()),
            remove_tag: RemoveTag::new(todo_ports.clone()),
            delete_todo: DeleteTodo::new(todo_ports.clone()),
            count_todos: CountTodos::new(todo_ports),
            watch_todos: WatchTodos::new(
                ports.events,
                ports.ticker,
                Authenticate::new(ports.sessions.clone(), ports.clock.clone()),
                settings.watch_limits,
            ),
            seed_demo: SeedDemo::new(ports.unit_of_work, ports.hasher, ports.clock, ports.ids),
            readiness: CheckReadiness::new(ports.probes),
        }
    }
}
