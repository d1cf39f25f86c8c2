//! The validation client's decisions, as a pure state machine: which node to ask next, when a
//! node's circuit opens and half-opens, how long to back off, when to give up and fall back
//! to the cached lease. No I/O, no clock, no randomness: the driver (HTTP in the CLI,
//! `fetch` in WASM) passes the time in milliseconds and a jitter value in `[0, 1)`, performs
//! the requests, and reports each outcome.
//!
//! ```text
//! Nodes::start(now) ─▶ Check ─▶ next(check, now, jitter) ─▶ Send { node, timeout } ─▶ driver
//!        ▲                                 │                 Wait { ms }
//!        └── record(check, node, outcome) ◀┘                 GiveUp ─▶ offline verdict
//! ```
//!
//! Per node: `closed` (counting consecutive failures) → `open` after `failure_threshold`
//! failures (not asked until `open_ms` passed) → `half_open` (one probe) → `closed` on
//! success, `open` again on failure. A `Retry-After` keeps a node out until it passes.

/// Limits of one check and of each node's circuit breaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientPolicy {
    /// Each request's timeout, milliseconds.
    pub request_timeout_ms: u64,
    /// The whole check's deadline (all attempts and waits), milliseconds.
    pub deadline_ms: u64,
    /// At most this many requests per check (the retry budget).
    pub max_attempts: u32,
    /// First backoff after every node failed once, milliseconds; doubles per round.
    pub backoff_base_ms: u64,
    /// Backoff ceiling, milliseconds.
    pub backoff_max_ms: u64,
    /// Consecutive failures that open a node's circuit.
    pub failure_threshold: u32,
    /// How long an open circuit stays open before one probe, milliseconds (10 s: after an
    /// outage, clients are back online at most this long after the nodes).
    pub open_ms: u64,
    /// Longest `Retry-After` honoured, milliseconds (a node asking for more stays out this
    /// long, then is probed).
    pub max_retry_after_ms: u64,
}

impl Default for ClientPolicy {
    fn default() -> Self {
        Self {
            request_timeout_ms: 2_000,
            deadline_ms: 6_000,
            max_attempts: 6,
            backoff_base_ms: 100,
            backoff_max_ms: 2_000,
            failure_threshold: 3,
            open_ms: 10_000,
            max_retry_after_ms: 60_000,
        }
    }
}

/// A node's circuit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Breaker {
    /// Asked normally; `failures` in a row so far.
    Closed {
        /// Consecutive failures.
        failures: u32,
    },
    /// Not asked until `until_ms`.
    Open {
        /// When one probe is allowed.
        until_ms: u64,
    },
    /// One probe allowed (or in flight).
    HalfOpen,
}

/// How a request to a node ended, as the driver saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A well-formed answer whose signature checked.
    Answered,
    /// No answer within the timeout (a hanging node).
    TimedOut,
    /// Connection refused or reset, DNS failure: the node is down.
    Unreachable,
    /// An error status; `retry_after_ms` from a `Retry-After` header, if any.
    Refused {
        /// HTTP status.
        status: u16,
        /// How long the node asked to be left alone.
        retry_after_ms: Option<u64>,
    },
    /// An answer that is garbage, too large, or whose signature does not check: a node
    /// failure, never a verdict.
    Invalid,
}

impl Outcome {
    /// Whether this outcome counts as the node working.
    pub const fn is_success(self) -> bool {
        matches!(self, Self::Answered)
    }
}

/// What the driver should do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Send the check to node `node` with this timeout.
    Send {
        /// Index into the node list.
        node: usize,
        /// Milliseconds (never past the deadline).
        timeout_ms: u64,
    },
    /// Sleep this long, then ask again.
    Wait {
        /// Milliseconds.
        ms: u64,
    },
    /// No node can answer within the deadline or the retry budget: use the cached lease.
    GiveUp,
}

/// One check in progress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    started_ms: u64,
    attempts: u32,
    /// Nodes that failed during this check (asked again only after every node failed).
    failed: Vec<bool>,
    rounds: u32,
}

impl Check {
    /// Requests sent so far.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }
}

/// The circuit breakers of a set of redundant nodes, and where the next check starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nodes {
    policy: ClientPolicy,
    breakers: Vec<Breaker>,
    /// A `Retry-After` keeps a node out until then.
    not_before_ms: Vec<u64>,
    /// The node that answered last: asked first next time.
    preferred: usize,
}

impl Nodes {
    /// `count` nodes, all closed.
    pub fn new(count: usize, policy: ClientPolicy) -> Self {
        Self {
            policy,
            breakers: vec![Breaker::Closed { failures: 0 }; count],
            not_before_ms: vec![0; count],
            preferred: 0,
        }
    }

    /// The policy.
    pub fn policy(&self) -> &ClientPolicy {
        &self.policy
    }

    /// A node's circuit (`None` for an index out of range).
    pub fn breaker(&self, node: usize) -> Option<Breaker> {
        self.breakers.get(node).copied()
    }

    /// Starts a check at `now_ms`.
    pub fn start(&self, now_ms: u64) -> Check {
        Check {
            started_ms: now_ms,
            attempts: 0,
            failed: vec![false; self.breakers.len()],
            rounds: 0,
        }
    }

    /// Whether `node` may be asked at `now_ms` (an open circuit whose time has come
    /// half-opens here).
    fn available(&mut self, node: usize, now_ms: u64) -> bool {
        if self.not_before_ms.get(node).is_some_and(|t| now_ms < *t) {
            return false;
        }
        match self.breakers.get(node).copied() {
            Some(Breaker::Closed { .. } | Breaker::HalfOpen) => true,
            Some(Breaker::Open { until_ms }) if now_ms >= until_ms => {
                if let Some(b) = self.breakers.get_mut(node) {
                    *b = Breaker::HalfOpen;
                }
                true
            }
            _ => false,
        }
    }

    /// When the soonest unavailable node becomes available again.
    fn next_available_ms(&self) -> Option<u64> {
        self.breakers
            .iter()
            .zip(&self.not_before_ms)
            .map(|(b, nb)| match b {
                Breaker::Open { until_ms } => (*until_ms).max(*nb),
                _ => *nb,
            })
            .min()
    }

    /// The next step of `check` at `now_ms`; `jitter` in `[0, 1)` spreads backoffs.
    pub fn next(&mut self, check: &mut Check, now_ms: u64, jitter: f64) -> Step {
        let deadline = check.started_ms.saturating_add(self.policy.deadline_ms);
        if now_ms >= deadline || check.attempts >= self.policy.max_attempts {
            return Step::GiveUp;
        }
        let count = self.breakers.len();
        if count == 0 {
            return Step::GiveUp;
        }
        // Every node failed this round: start another round after a backoff.
        if check.failed.iter().all(|f| *f) {
            check.failed.iter_mut().for_each(|f| *f = false);
            check.rounds += 1;
            let wait = backoff(&self.policy, check.rounds, jitter);
            if now_ms.saturating_add(wait) >= deadline {
                return Step::GiveUp;
            }
            return Step::Wait { ms: wait };
        }
        let first = self.preferred;
        for node in (0..count).map(|i| (first + i) % count) {
            if !check.failed.get(node).copied().unwrap_or(true) && self.available(node, now_ms) {
                check.attempts += 1;
                return Step::Send {
                    node,
                    timeout_ms: self.policy.request_timeout_ms.min(deadline - now_ms),
                };
            }
        }
        // Nodes not yet failed this round are all open or told us to wait.
        match self.next_available_ms() {
            Some(at) if at > now_ms && at < deadline => Step::Wait { ms: at - now_ms },
            _ => Step::GiveUp,
        }
    }

    /// Records how a request to `node` ended.
    pub fn record(&mut self, check: &mut Check, node: usize, now_ms: u64, outcome: Outcome) {
        let threshold = self.policy.failure_threshold.max(1);
        let open_until = now_ms.saturating_add(self.policy.open_ms);
        let Some(breaker) = self.breakers.get_mut(node) else {
            return;
        };
        if outcome.is_success() {
            *breaker = Breaker::Closed { failures: 0 };
            self.preferred = node;
            return;
        }
        if let Some(f) = check.failed.get_mut(node) {
            *f = true;
        }
        *breaker = match *breaker {
            Breaker::Closed { failures } if failures + 1 < threshold => Breaker::Closed {
                failures: failures + 1,
            },
            _ => Breaker::Open {
                until_ms: open_until,
            },
        };
        if let Outcome::Refused {
            retry_after_ms: Some(ms),
            ..
        } = outcome
            && let Some(nb) = self.not_before_ms.get_mut(node)
        {
            *nb = now_ms.saturating_add(ms.min(self.policy.max_retry_after_ms));
        }
    }
}

/// Exponential backoff with "equal jitter": half fixed, half random.
fn backoff(policy: &ClientPolicy, round: u32, jitter: f64) -> u64 {
    let exp = policy
        .backoff_base_ms
        .saturating_mul(1u64 << round.saturating_sub(1).min(20))
        .min(policy.backoff_max_ms);
    let jitter = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let half = exp / 2;
    half + (half as f64 * jitter) as u64
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
