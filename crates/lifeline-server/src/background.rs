//! What a serving node does on its own, besides answering requests: refresh its heartbeat,
//! evaluate the incident rules, sweep the seats, deliver webhook messages. Each loop reads its interval from
//! the state's settings at every turn and logs failures (the store may be down: the next turn
//! tries again). Stopping aborts the loops and removes the node's heartbeat row.

use std::time::Duration;

use tokio::task::JoinHandle;

use crate::AppState;

/// The running loops.
#[derive(Debug)]
pub(crate) struct Background {
    tasks: Vec<JoinHandle<()>>,
}

/// Registers the node, then starts the loops.
pub(crate) async fn start(state: &AppState) -> Background {
    if let Err(e) = state.heartbeat(crate::clock::now()).await {
        state.metrics().store_error();
        tracing::error!(error = %e, "heartbeat");
    }
    let heartbeat = {
        let state = state.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(state.rules().heartbeat_every_s)).await;
                if state.partitioned() {
                    continue;
                }
                if let Err(e) = state.heartbeat(crate::clock::now()).await {
                    state.metrics().store_error();
                    tracing::error!(error = %e, "heartbeat");
                }
            }
        })
    };
    let rules = {
        let state = state.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(state.rules().evaluate_every_s)).await;
                if state.partitioned() {
                    continue;
                }
                match state.evaluate_rules(crate::clock::now()).await {
                    Ok(e) => {
                        for id in &e.opened {
                            tracing::warn!(incident = %id, "incident opened");
                        }
                        for id in &e.resolved {
                            tracing::info!(incident = %id, "incident resolved");
                        }
                    }
                    Err(e) => {
                        state.metrics().store_error();
                        tracing::error!(error = %e, "evaluating the rules");
                    }
                }
            }
        })
    };
    let seats = {
        let state = state.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(state.rules().seat_sweep_every_s)).await;
                if state.partitioned() {
                    continue;
                }
                match state.sweep_seats(crate::clock::now()).await {
                    Ok(r) => {
                        if let Some((from, to)) = r.outage {
                            tracing::warn!(
                                from,
                                to,
                                "no node swept the seats meanwhile: an outage, not counted against any seat"
                            );
                        }
                        for id in &r.reclaimed {
                            tracing::info!(seat = %id, "seat reclaimed: no heartbeat for its heartbeat_s of service time");
                        }
                    }
                    Err(e) => {
                        state.metrics().store_error();
                        tracing::error!(error = %e, "sweeping the seats");
                    }
                }
            }
        })
    };
    let webhooks = {
        let state = state.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(state.delivery().every_ms.max(10))).await;
                // Not awaited: a pass that waits on a slow endpoint must not hold up the
                // next one, which serves the other endpoints (deliver.rs).
                let state = state.clone();
                tokio::spawn(async move {
                    match state.deliver_webhooks(crate::clock::now()).await {
                        Ok(r) => {
                            for id in &r.disabled {
                                tracing::warn!(webhook = %id, "webhook disabled after repeated failures");
                            }
                        }
                        Err(e) => {
                            state.metrics().store_error();
                            tracing::error!(error = %e, "delivering webhooks");
                        }
                    }
                });
            }
        })
    };
    Background {
        tasks: vec![heartbeat, rules, seats, webhooks],
    }
}

impl Background {
    /// Stops the loops and removes this node's heartbeat (a clean stop is not an outage).
    pub(crate) async fn stop(self, state: &AppState) {
        for task in self.tasks {
            task.abort();
        }
        if let Err(e) = state.leave().await {
            tracing::error!(error = %e, "removing this node's heartbeat");
        }
    }
}
