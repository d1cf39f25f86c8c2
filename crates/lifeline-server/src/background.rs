//! What a serving node does on its own, besides answering requests: refresh its heartbeat,
//! evaluate the incident rules, deliver webhook messages. Each loop reads its interval from
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
        eprintln!("lifeline-server: heartbeat: {e}");
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
                    eprintln!("lifeline-server: heartbeat: {e}");
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
                            eprintln!("lifeline-server: incident opened: {id}");
                        }
                        for id in &e.resolved {
                            eprintln!("lifeline-server: incident resolved: {id}");
                        }
                    }
                    Err(e) => {
                        state.metrics().store_error();
                        eprintln!("lifeline-server: evaluating the rules: {e}");
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
                match state.deliver_webhooks(crate::clock::now()).await {
                    Ok(r) => {
                        for id in &r.disabled {
                            eprintln!(
                                "lifeline-server: webhook {id} disabled after repeated failures"
                            );
                        }
                    }
                    Err(e) => {
                        state.metrics().store_error();
                        eprintln!("lifeline-server: delivering webhooks: {e}");
                    }
                }
            }
        })
    };
    Background {
        tasks: vec![heartbeat, rules, webhooks],
    }
}

impl Background {
    /// Stops the loops and removes this node's heartbeat (a clean stop is not an outage).
    pub(crate) async fn stop(self, state: &AppState) {
        for task in self.tasks {
            task.abort();
        }
        if let Err(e) = state.leave().await {
            eprintln!("lifeline-server: removing this node's heartbeat: {e}");
        }
    }
}
