//! The validation client, whole: one check of a license against redundant nodes, with what
//! it keeps between checks. Pure like the rest of the core: the shell (the CLI's `check` over
//! HTTP, the WASM `Client` over `fetch`) performs the requests, sleeps, reads the clocks and
//! stores [`SessionCache`]; every decision is here.
//!
//! ```text
//! Session::begin(license, now, now_ms) ─▶ Round
//!   loop: Session::next(round, now_ms, jitter)
//!           Send { node, timeout_ms } ─▶ shell POSTs /api/v1/validate
//!                  ─▶ Session::receive(round, node, now_ms, Reply) ─▶ Verdict | try another
//!           Wait { ms }               ─▶ shell sleeps
//!           Done(verdict)             ─▶ not authentic, or no node: the offline verdict
//! ```
//!
//! An answer counts only with a lease that is authentic, for this license and not older than
//! one already seen ([`Trust::accept`]); anything else is that node failing, never a verdict.

use serde::{Deserialize, Serialize};

use crate::client::{Check, Step};
use crate::renewal::{RenewalProblem, renewal};
use crate::{
    KeySet, Lease, LeaseProblem, Nodes, OfflinePolicy, Outcome, Override, Policy, Trust, UnixTime,
    Verdict, offline_verdict, online_verdict,
};

/// The longest node answer a client reads; a longer one is a failing node.
pub const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// What a client keeps between checks (its cache file or storage entry). A cache that does
/// not decode is discarded, never trusted: a client starts empty.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionCache {
    /// The last accepted lease.
    pub lease: Option<String>,
    /// Trusted time and the highest lease sequence.
    pub trust: Trust,
    /// The override tokens the last answer carried.
    #[serde(default)]
    pub overrides: Vec<String>,
    /// The newest version of the license a node handed out ([`crate::renewal`]): checked
    /// in place of the license the shell passes when it is a renewal of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
}

/// What came back from a node.
#[derive(Clone, Copy, Debug)]
pub enum Reply<'a> {
    /// HTTP 200 with this body.
    Body(&'a [u8]),
    /// No usable answer: timeout, unreachable, an error status (with its `Retry-After`).
    Failed(Outcome),
}

/// What the shell does next.
#[derive(Clone, Debug)]
pub enum Next {
    /// POST the check to node `node`, giving up after `timeout_ms`.
    Send {
        /// Index into the node list.
        node: usize,
        /// Milliseconds (never past the check's deadline).
        timeout_ms: u64,
    },
    /// Sleep this long, then ask [`Session::next`] again.
    Wait {
        /// Milliseconds.
        ms: u64,
    },
    /// The check is over: this is its verdict (the license is not authentic, or no node
    /// answered in time and the cached lease decided).
    Done(Box<Verdict>),
}

/// What a node's reply did.
#[derive(Clone, Debug)]
pub enum Received {
    /// The node answered with a lease this client trusts: the check's verdict (the cache
    /// changed: store it).
    Verdict(Box<Verdict>),
    /// The node answered, but its lease is not one to trust: the node counts as failed.
    Rejected(LeaseProblem),
    /// The node failed (no answer, an error status, an answer that is not one).
    Failed,
}

/// One check in progress.
#[derive(Clone, Debug)]
pub struct Round {
    check: Check,
    local: Verdict,
    license_id: Option<String>,
    now: UnixTime,
    /// The license checked: the shell's, or the cached renewal of it.
    license: String,
    /// For a license refused only because its key is marked compromised and this client
    /// holds no issued list: its verdict without that rule, taken when a node vouches for it
    /// with a usable lease (now, or, offline, the cached one). A node refuses forgeries, so
    /// its lease never vouches for one (but in the second before it reads the mark).
    vouched: Option<Verdict>,
    renewed: bool,
    renewal_problem: Option<RenewalProblem>,
}

impl Round {
    /// The license this check is about: the one the shell passed, or a newer version of it
    /// (from the cache, or handed out by a node during this check).
    pub fn license(&self) -> &str {
        &self.license
    }

    /// Whether the license changed during this check (a node handed out a newer version):
    /// the shell stores [`Self::license`] in place of its license.
    pub fn renewed(&self) -> bool {
        self.renewed
    }

    /// Why a license a node handed out was not taken, if one was not.
    pub fn renewal_problem(&self) -> Option<&RenewalProblem> {
        self.renewal_problem.as_ref()
    }
}

/// The parts of a node's answer the client reads.
#[derive(Deserialize)]
struct Answer {
    lease: Option<String>,
    #[serde(default)]
    overrides: Vec<String>,
    /// A newer version of the license, when the node holds one.
    #[serde(default)]
    license: Option<String>,
}

/// A validation client: the nodes' circuit breakers, the keys and policies, the cache.
#[derive(Clone, Debug)]
pub struct Session {
    nodes: Nodes,
    keys: KeySet,
    policy: Policy,
    offline: OfflinePolicy,
    cache: SessionCache,
}

impl Session {
    /// A client of these nodes (see [`Nodes::new`]), verifying with `keys` and `policy`,
    /// starting from `cache`.
    pub fn new(
        nodes: Nodes,
        keys: KeySet,
        policy: Policy,
        offline: OfflinePolicy,
        cache: SessionCache,
    ) -> Self {
        Self {
            nodes,
            keys,
            policy,
            offline,
            cache,
        }
    }

    /// What to store between checks.
    pub fn cache(&self) -> &SessionCache {
        &self.cache
    }

    /// Replaces the cache (a shell that reads its storage late).
    pub fn set_cache(&mut self, cache: SessionCache) {
        self.cache = cache;
    }

    /// The nodes' circuit breakers.
    pub fn nodes(&self) -> &Nodes {
        &self.nodes
    }

    /// The key set.
    pub fn keys(&self) -> &KeySet {
        &self.keys
    }

    /// The policy licenses are checked with.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Records a newer version of the license that the shell took from elsewhere (a seat
    /// answer, checked with [`crate::renewal`]): the cache keeps it like a node's renewal.
    pub fn keep_license(&mut self, license: String) {
        self.cache.license = Some(license);
    }

    /// Replaces the key set (a shell that re-read its key-set file: a rotation, a key marked
    /// compromised). The cache stays: its lease and license are checked against the new set
    /// whenever they are used.
    pub fn set_keys(&mut self, keys: KeySet) {
        self.keys = keys;
    }

    /// Starts a check of `license` at `now` (the wall clock) and `now_ms` (a monotonic
    /// clock, milliseconds). When the cache holds a newer version of that license (handed
    /// out by a node before), the check is about that one.
    pub fn begin(&self, license: &[u8], now: UnixTime, now_ms: u64) -> Round {
        // Authenticated once: the verdict, and the one a node may vouch for.
        let (mut local, mut vouched) = match crate::UnverifiedLicense::parse(license)
            .and_then(|t| t.authenticate(&self.keys))
        {
            Ok(signed) => {
                let local = signed.evaluate(&self.keys, &self.policy, now);
                let vouched = unlisted(&local)
                    .then(|| signed.evaluate_vouched(&self.keys, &self.policy, now));
                (local, vouched)
            }
            Err(error) => (Verdict::refused(error, None), None),
        };
        let mut token = String::from_utf8_lossy(license.trim_ascii()).into_owned();
        if let (Some(held), Some(cached)) = (local.claims(), &self.cache.license)
            && let Ok(newer) = renewal(held, cached.as_bytes(), &self.keys, &self.policy, now)
        {
            // A renewal is never refused for its key: nothing to vouch for.
            local = newer;
            vouched = None;
            token.clone_from(cached);
        }
        let license_id = local.claims().map(|c| c.jti().to_owned());
        Round {
            check: self.nodes.start(now_ms),
            local,
            license_id,
            now,
            vouched,
            license: token,
            renewed: false,
            renewal_problem: None,
        }
    }

    /// The next step of a check; `jitter` is a value in `[0, 1)` for the backoff.
    pub fn next(&mut self, round: &mut Round, now_ms: u64, jitter: f64) -> Next {
        let Some(license_id) = &round.license_id else {
            // Not authentic: no node can make it usable.
            return Next::Done(Box::new(round.local.clone()));
        };
        match self.nodes.next(&mut round.check, now_ms, jitter) {
            Step::Send { node, timeout_ms } => Next::Send { node, timeout_ms },
            Step::Wait { ms } => Next::Wait { ms },
            Step::GiveUp => {
                let lease = self
                    .cache
                    .lease
                    .as_deref()
                    .and_then(|t| Lease::verify(t.as_bytes(), &self.keys).ok())
                    .filter(|l| &l.license_id == license_id);
                // The last lease vouched for this license (a leaked key's lease counts only
                // if signed before the mark: `Lease::verify`), so the offline grace goes on as
                // it would have without the leak.
                if lease.as_ref().is_some_and(Lease::is_usable)
                    && let Some(vouched) = round.vouched.take()
                {
                    round.local = vouched;
                }
                let local = self.with_cached_overrides(round);
                Next::Done(Box::new(offline_verdict(
                    local,
                    lease.as_ref(),
                    &self.cache.trust,
                    &self.offline,
                    round.now,
                )))
            }
        }
    }

    /// Takes node `node`'s reply to [`Next::Send`], at `now_ms`.
    pub fn receive(
        &mut self,
        round: &mut Round,
        node: usize,
        now_ms: u64,
        reply: Reply<'_>,
    ) -> Received {
        let body = match reply {
            Reply::Body(body) => body,
            Reply::Failed(outcome) => {
                let outcome = if outcome.is_success() {
                    Outcome::Invalid
                } else {
                    outcome
                };
                self.nodes.record(&mut round.check, node, now_ms, outcome);
                return Received::Failed;
            }
        };
        let answer = (body.len() <= MAX_ANSWER_BYTES)
            .then(|| serde_json::from_slice::<Answer>(body).ok())
            .flatten();
        let (Some(answer), Some(license_id)) = (answer, &round.license_id) else {
            self.nodes
                .record(&mut round.check, node, now_ms, Outcome::Invalid);
            return Received::Failed;
        };
        let accepted = self.cache.trust.accept(
            answer.lease.as_deref().map(str::as_bytes),
            license_id,
            &self.keys,
            round.now,
        );
        match accepted {
            Ok(lease) => {
                self.nodes
                    .record(&mut round.check, node, now_ms, Outcome::Answered);
                self.cache.lease = answer.lease;
                self.cache.overrides = answer.overrides;
                if lease.is_usable()
                    && let Some(vouched) = round.vouched.take()
                {
                    round.local = vouched;
                }
                if let Some(candidate) = answer.license {
                    self.take_renewal(round, candidate);
                }
                let local = self.with_cached_overrides(round);
                Received::Verdict(Box::new(online_verdict(local, &lease)))
            }
            Err(problem) => {
                self.nodes
                    .record(&mut round.check, node, now_ms, Outcome::Invalid);
                Received::Rejected(problem)
            }
        }
    }

    /// Replaces the round's license with `candidate` when it is a renewal of it.
    fn take_renewal(&mut self, round: &mut Round, candidate: String) {
        let Some(held) = round.local.claims() else {
            return;
        };
        match renewal(
            held,
            candidate.as_bytes(),
            &self.keys,
            &self.policy,
            round.now,
        ) {
            Ok(verdict) => {
                round.local = verdict;
                round.license.clone_from(&candidate);
                round.renewed = true;
                round.renewal_problem = None;
                self.cache.license = Some(candidate);
            }
            Err(problem) => round.renewal_problem = Some(problem),
        }
    }

    /// The round's local verdict with the cached overrides that verify now applied.
    fn with_cached_overrides(&self, round: &Round) -> Verdict {
        let overrides: Vec<Override> = self
            .cache
            .overrides
            .iter()
            .filter_map(|t| {
                Override::verify(
                    t.as_bytes(),
                    &self.keys,
                    round.now,
                    self.policy.leeway_secs(),
                )
                .ok()
            })
            .collect();
        round.local.clone().with_overrides(&overrides, round.now)
    }
}

/// Whether `verdict` refuses a license only because its key is marked compromised and the
/// key set holds no issued list for it (what a node's lease may vouch for: see [`Round`]).
fn unlisted(verdict: &Verdict) -> bool {
    matches!(
        verdict.error(),
        Some(crate::VerifyError::KeyCompromised {
            list_known: false,
            ..
        })
    )
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
