//! The command line: one binary, one subcommand per operator task.
//!
//! Each command is a thin driver like the HTTP handlers will be: it parses its arguments
//! into domain types, calls a use case (or the migrator), and prints the outcome. Command
//! output goes to stdout; logs go to stderr.
#![allow(clippy::print_stdout)] // Printing the outcome is what a CLI command is for.

use std::io::{BufRead, IsTerminal};

use anyhow::{Context, bail};
use application::{
    seed::{DemoUser, SeedOutcome},
    users::{RegisterError, Registration},
};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use domain::user::{DisplayName, Email, Password, Role};
use driven_postgres::{self as postgres, PoolSettings};

use tokio_util::sync::CancellationToken;

use crate::{app::Application, config::Config, server::HttpServer, shutdown};

/// The environment variable `users create` and `seed` read the password from. Passwords
/// never come from arguments, which other users of the machine can see in the process list.
pub const PASSWORD_VAR: &str = "USER_PASSWORD";

/// The todo + users reference backend.
///
/// Every setting is an environment variable (a `.env` file is read for local use; real
/// variables win) and, for a one-off run, a flag of the same name.
#[derive(Debug, Parser)]
#[command(name = "backend", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// The settings.
    #[command(flatten)]
    pub config: Config,
}

/// Parses the command line and the environment into the command to run and its settled
/// configuration. On a malformed command line or variable, prints clap's message (which
/// names the variable) and exits 2, as `--help` exits 0.
///
/// # Errors
/// When the settings parse but break a rule between them.
pub fn parse() -> anyhow::Result<(Command, Config)> {
    let command = crate::config::declare(Cli::command(), true);
    let matches = command.clone().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let config = cli.config.settle(&command, &matches)?;
    Ok((cli.command, config))
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the REST and GraphQL APIs on one listener until SIGINT or SIGTERM.
    Serve,
    /// Deliver outbox jobs and run the periodic jobs until SIGINT or SIGTERM, with probes
    /// and metrics on WORKER_HTTP_ADDR (needs DATABASE_URL: in memory, `serve` runs the
    /// worker itself).
    Worker,
    /// Inspect and requeue background jobs (needs DATABASE_URL).
    Jobs {
        /// The jobs command.
        #[command(subcommand)]
        command: JobsCommand,
    },
    /// Apply the pending database migrations (needs DATABASE_URL). Safe to run again.
    Migrate,
    /// Exit 0 if `url` answers 2xx within 2 seconds, else 1: the health check of an image
    /// that has no shell and no curl, such as
    /// `backend probe http://127.0.0.1:8080/readyz`.
    Probe {
        /// The URL to GET.
        url: url::Url,
    },
    /// Manage users.
    Users {
        /// The user command.
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Create a demo user with a few todos, unless the user exists (needs DATABASE_URL).
    ///
    /// The password is read from USER_PASSWORD, or else from standard input.
    Seed {
        /// The demo user's email.
        #[arg(long, default_value = "demo@example.org")]
        email: String,
    },
    /// Print the effective configuration, with secrets redacted.
    Config,
    /// Print the GraphQL schema (SDL): the contract checked in as
    /// `infrastructure/graphql/schema.graphql`.
    #[cfg(feature = "graphql")]
    GraphqlSchema,
}

/// The `users` subcommands.
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create a user (needs DATABASE_URL).
    ///
    /// The password is read from USER_PASSWORD, or else from standard input (prompted for,
    /// without echo, on a terminal).
    Create {
        /// The login email.
        #[arg(long)]
        email: String,
        /// The name shown for the user.
        #[arg(long)]
        display_name: String,
        /// Make the user an administrator.
        #[arg(long)]
        admin: bool,
    },
}

/// The `jobs` subcommands.
#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// List the dead jobs (out of attempts), most recently dead first.
    Dead {
        /// The most to list.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Requeue a dead job, with a fresh set of attempts.
    Retry {
        /// The job's id, as `jobs dead` prints it.
        id: uuid::Uuid,
    },
}

impl Command {
    /// Whether the command runs until it is stopped (`serve`, `worker`): the commands whose
    /// spans are worth exporting. A one-shot command (`migrate`, `jobs dead`, ...) exports
    /// nothing, so it never waits on a collector before it exits.
    pub fn runs_until_stopped(&self) -> bool {
        matches!(self, Self::Serve | Self::Worker)
    }
}

/// Runs `command` with `config`.
///
/// # Errors
/// Whatever stops the command; the message says what to fix.
pub async fn run(command: Command, config: &Config) -> anyhow::Result<()> {
    match command {
        Command::Serve => serve(config).await,
        Command::Worker => worker(config).await,
        Command::Jobs { command } => jobs(config, command).await,
        Command::Migrate => migrate(config).await,
        Command::Probe { url } => probe(url).await,
        Command::Users {
            command:
                UsersCommand::Create {
                    email,
                    display_name,
                    admin,
                },
        } => create_user(config, &email, &display_name, admin).await,
        Command::Seed { email } => seed(config, &email).await,
        #[cfg(feature = "graphql")]
        Command::GraphqlSchema => {
            print!("{}", driving_graphql::sdl());
            Ok(())
        }
        Command::Config => {
            for (var, value) in config.describe() {
                println!("{var}={value}");
            }
            Ok(())
        }
    }
}

async fn serve(config: &Config) -> anyhow::Result<()> {
    let shutdown = shutdown::on_signal();
    let Some(app) = unless_stopped(&shutdown, Application::build(config)).await? else {
        return Ok(());
    };
    let server = HttpServer::bind(&app, config).await?;
    let addr = server.local_addr()?;
    tracing::info!(%addr, docs = %format!("http://{addr}/docs"), "listening");
    server.run(shutdown).await?;
    app.close().await;
    Ok(())
}

async fn worker(config: &Config) -> anyhow::Result<()> {
    require_database(config, "worker")?;
    let shutdown = shutdown::on_signal();
    let Some(app) = unless_stopped(&shutdown, Application::build(config)).await? else {
        return Ok(());
    };
    let worker = crate::worker::StandaloneWorker::bind(app.jobs.clone(), config).await?;
    worker.run(shutdown).await?;
    app.close().await;
    Ok(())
}

/// `start`, unless SIGINT or SIGTERM comes first: a process told to stop while it is still
/// waiting for its backing services has nothing to drain, and stops cleanly (`None`).
async fn unless_stopped<T>(
    shutdown: &CancellationToken,
    start: impl Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<Option<T>> {
    tokio::select! {
        started = start => started.map(Some),
        () = shutdown.cancelled() => {
            tracing::info!("stopped during start-up");
            Ok(None)
        }
    }
}

async fn jobs(config: &Config, command: JobsCommand) -> anyhow::Result<()> {
    require_database(config, "jobs")?;
    let app = Application::build(config).await?;
    match command {
        JobsCommand::Dead { limit } => {
            let dead = app.jobs.list_dead.execute(limit).await?;
            if dead.is_empty() {
                println!("no dead jobs");
            }
            for job in dead {
                println!(
                    "{}\t{}\tattempts={}\trecorded={}\tdied={}\t{}",
                    job.id,
                    job.kind,
                    job.attempts,
                    job.recorded_at.to_rfc3339(),
                    job.died_at.to_rfc3339(),
                    job.last_error
                );
            }
        }
        JobsCommand::Retry { id } => {
            let id = domain::event::MessageId::from_uuid(id);
            if !app.jobs.retry_dead.execute(id).await? {
                bail!("no dead job has the id {id}");
            }
            println!("requeued {id}");
        }
    }
    app.close().await;
    Ok(())
}

/// GETs `url` and fails unless the answer is a success.
async fn probe(url: url::Url) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(2))
        .build()
        .context("cannot build the HTTP client")?;
    let status = client
        .get(url.clone())
        .send()
        .await
        .with_context(|| format!("{url} did not answer"))?
        .status();
    anyhow::ensure!(status.is_success(), "{url} answered {status}");
    Ok(())
}

async fn migrate(config: &Config) -> anyhow::Result<()> {
    let Some(url) = &config.database.url else {
        bail!("migrate needs a database: set DATABASE_URL");
    };
    let settings = PoolSettings {
        max_connections: 1,
        ..PoolSettings::default()
    };
    let pool = crate::app::reach("Postgres", config.startup_connect_timeout, || {
        postgres::connect(url.expose().as_str(), settings)
    })
    .await
    .context("cannot connect to DATABASE_URL")?;
    postgres::migrate(&pool).await?;
    pool.close().await;
    println!("migrations are up to date");
    Ok(())
}

async fn create_user(
    config: &Config,
    email: &str,
    display_name: &str,
    admin: bool,
) -> anyhow::Result<()> {
    require_database(config, "users create")?;
    let registration = Registration {
        email: Email::parse(email).with_context(|| format!("invalid --email {email:?}"))?,
        display_name: DisplayName::new(display_name)
            .with_context(|| format!("invalid --display-name {display_name:?}"))?,
        password: read_password()?,
    };
    let app = Application::build(config).await?;
    let role = if admin { Role::Admin } else { Role::Member };
    match app
        .use_cases
        .register
        .create_with_role(registration, role)
        .await
    {
        Ok(user) => {
            println!("created {} user {} <{}>", user.role, user.id, user.email);
            Ok(())
        }
        Err(RegisterError::EmailTaken) => bail!("a user with the email {email} already exists"),
        Err(e) => Err(e).context("cannot create the user"),
    }
}

async fn seed(config: &Config, email: &str) -> anyhow::Result<()> {
    require_database(config, "seed")?;
    let demo = DemoUser {
        email: Email::parse(email).with_context(|| format!("invalid --email {email:?}"))?,
        display_name: DisplayName::new("Demo User")?,
        password: read_password()?,
    };
    let app = Application::build(config).await?;
    match app
        .use_cases
        .seed_demo
        .execute(demo)
        .await
        .context("cannot seed the demo data")?
    {
        SeedOutcome::Created { user, todos } => println!(
            "created demo user {} <{}> with {todos} todos",
            user.id, user.email
        ),
        SeedOutcome::AlreadyPresent => println!("demo user {email} exists already; nothing to do"),
    }
    Ok(())
}

/// Users written to the in-memory store would vanish when the command exits.
fn require_database(config: &Config, command: &str) -> anyhow::Result<()> {
    if config.database.url.is_none() {
        bail!("{command} needs a database to write to: set DATABASE_URL (and run `migrate` first)");
    }
    Ok(())
}

/// The password from USER_PASSWORD, or else from standard input.
fn read_password() -> anyhow::Result<Password> {
    let raw = match std::env::var(PASSWORD_VAR) {
        Ok(value) => value,
        Err(_) if std::io::stdin().is_terminal() => rpassword::prompt_password("Password: ")
            .context("cannot read the password from the terminal")?,
        Err(_) => {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("cannot read the password from standard input")?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    if raw.is_empty() {
        bail!("no password given: set {PASSWORD_VAR} or pipe the password to standard input");
    }
    Password::new(raw).context("invalid password")
}
