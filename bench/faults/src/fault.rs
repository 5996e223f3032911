//! The faults the harness injects, and how each is made to happen and undone.

use std::{collections::BTreeMap, sync::Mutex, time::Duration};

use crate::{proxy::Proxy, stack::Process};

/// One kind of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Fault {
    CutPostgres,
    SlowPostgres,
    CutRedis,
    SlowRedis,
    KillReplica,
    KillWorker,
    TermReplica,
    LoseAnswers,
}

pub(crate) const FAULTS: [Fault; 8] = [
    Fault::CutPostgres,
    Fault::SlowPostgres,
    Fault::CutRedis,
    Fault::SlowRedis,
    Fault::KillReplica,
    Fault::KillWorker,
    Fault::TermReplica,
    Fault::LoseAnswers,
];

/// What the faults did, for the report.
#[derive(Debug, Default)]
pub(crate) struct FaultLog {
    pub(crate) injected: BTreeMap<Fault, u64>,
    /// SIGTERMed replicas that did not exit 0.
    pub(crate) unclean_exits: Vec<String>,
}

/// What one fault may act on: the two backing services' proxies, and the replica (with the
/// proxy in front of it) and the worker the schedule drew.
pub(crate) struct Target<'a> {
    pub(crate) pg: &'a Proxy,
    pub(crate) redis: &'a Proxy,
    pub(crate) replica: &'a Process,
    pub(crate) front: &'a Proxy,
    pub(crate) worker: &'a Process,
}

/// Makes `fault` happen, and undoes it after `length`.
pub(crate) async fn inject(
    fault: Fault,
    length: Duration,
    delay: Duration,
    target: Target<'_>,
    log: &Mutex<FaultLog>,
) {
    let Target {
        pg,
        redis,
        replica,
        front,
        worker,
    } = target;
    match fault {
        Fault::CutPostgres | Fault::CutRedis => {
            let proxy = if fault == Fault::CutPostgres {
                pg
            } else {
                redis
            };
            proxy.cut();
            tokio::time::sleep(length).await;
            proxy.restore();
        }
        Fault::SlowPostgres | Fault::SlowRedis => {
            let proxy = if fault == Fault::SlowPostgres {
                pg
            } else {
                redis
            };
            proxy.slow(delay);
            tokio::time::sleep(length).await;
            proxy.restore();
        }
        Fault::KillReplica | Fault::KillWorker => {
            let process = if fault == Fault::KillReplica {
                replica
            } else {
                worker
            };
            let _turn = process.turn().await;
            process.kill().await;
            tokio::time::sleep(length / 2).await;
            if let Err(error) = process.start().await {
                log.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .unclean_exits
                    .push(format!("{} did not restart: {error}", process.name));
            }
        }
        Fault::LoseAnswers => {
            front.lose_answers();
            tokio::time::sleep(length).await;
            front.restore();
        }
        Fault::TermReplica => {
            let _turn = replica.turn().await;
            match replica.terminate().await {
                Some(status) if status.success() => {}
                other => log
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .unclean_exits
                    .push(format!(
                        "{} did not exit 0 on SIGTERM: {other:?}",
                        replica.name
                    )),
            }
            if let Err(error) = replica.start().await {
                log.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .unclean_exits
                    .push(format!("{} did not restart: {error}", replica.name));
            }
        }
    }
}
