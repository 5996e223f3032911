//! The processes of the stack: `serve` replicas and workers, each a child process of the
//! `backend` binary, which the harness starts, kills and restarts.

use std::{
    path::PathBuf,
    process::{ExitStatus, Stdio},
    time::Duration,
};

use anyhow::Context;
use tokio::{
    process::Child,
    sync::{Mutex, MutexGuard},
};

/// What a process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// `backend serve`: REST, GraphQL and gRPC on `port`.
    Serve,
    /// `backend worker`: its probes on `port`.
    Worker,
}

/// One process of the stack, restartable on the same port.
#[derive(Debug)]
pub(crate) struct Process {
    pub(crate) role: Role,
    pub(crate) name: String,
    pub(crate) port: u16,
    bin: PathBuf,
    env: Vec<(String, String)>,
    log: PathBuf,
    child: Mutex<Option<Child>>,
    /// Held by the fault acting on this process, so that two faults never act on it at
    /// once (a SIGTERM to a replica that another fault is still restarting would judge the
    /// restart, not the drain).
    turn: Mutex<()>,
}

impl Process {
    pub(crate) fn new(
        role: Role,
        name: String,
        port: u16,
        bin: PathBuf,
        env: Vec<(String, String)>,
        log: PathBuf,
    ) -> Self {
        Self {
            role,
            name,
            port,
            bin,
            env,
            log,
            child: Mutex::new(None),
            turn: Mutex::new(()),
        }
    }

    /// Waits until no other fault acts on this process; this one's turn lasts as long as
    /// the guard.
    pub(crate) async fn turn(&self) -> MutexGuard<'_, ()> {
        self.turn.lock().await
    }

    /// Starts the process (again), its output appended to its log, and waits until it
    /// answers `/healthz`.
    pub(crate) async fn start(&self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("cannot open {}", self.log.display()))?;
        let command = match self.role {
            Role::Serve => "serve",
            Role::Worker => "worker",
        };
        let child = tokio::process::Command::new(&self.bin)
            .arg(command)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", self.bin.display()))?;
        *self.child.lock().await = Some(child);
        let url = format!("http://127.0.0.1:{}/healthz", self.port);
        let client = reqwest::Client::new();
        for _ in 0..300 {
            if let Ok(response) = client
                .get(&url)
                .timeout(Duration::from_millis(500))
                .send()
                .await
                && response.status().is_success()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anyhow::bail!("{} did not come up; see {}", self.name, self.log.display())
    }

    /// SIGKILL: nothing is finished, nothing is reported.
    pub(crate) async fn kill(&self) {
        if let Some(mut child) = self.child.lock().await.take() {
            let _ = child.kill().await;
        }
    }

    /// SIGTERM, and the exit status once it has stopped (at most 60 s later, then killed).
    pub(crate) async fn terminate(&self) -> Option<ExitStatus> {
        let mut child = self.child.lock().await.take()?;
        if let Some(pid) = child.id() {
            let _ = tokio::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await;
        }
        match tokio::time::timeout(Duration::from_secs(60), child.wait()).await {
            Ok(Ok(status)) => Some(status),
            _ => {
                let _ = child.kill().await;
                None
            }
        }
    }

    /// Whether the process is running now.
    pub(crate) async fn running(&self) -> bool {
        match self.child.lock().await.as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }
}

/// A free port on the loopback interface, for a process that must keep it across restarts.
pub(crate) fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}
