//! The validation client's circuit breakers against a simple model: random outcomes and
//! clock jumps, many checks in a row; after every step the state machine and the model
//! agree, and the machine never asks a node the model says is out.

use lifeline_core::{Breaker, ClientPolicy, Nodes, Outcome, Step};
use proptest::prelude::*;

const POLICY: ClientPolicy = ClientPolicy {
    request_timeout_ms: 800,
    deadline_ms: 4_000,
    max_attempts: 5,
    backoff_base_ms: 50,
    backoff_max_ms: 400,
    failure_threshold: 3,
    open_ms: 5_000,
    max_retry_after_ms: 2_000,
};

/// What a node's circuit should be, written as plainly as possible.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Model {
    Closed(u32),
    Open(u64),
    HalfOpen,
}

fn outcome(kind: u8, retry_after: u64) -> Outcome {
    match kind % 5 {
        0 => Outcome::Answered,
        1 => Outcome::TimedOut,
        2 => Outcome::Unreachable,
        3 => Outcome::Refused {
            status: 503,
            retry_after_ms: Some(retry_after),
        },
        _ => Outcome::Invalid,
    }
}

fn matches(model: Model, real: Breaker) -> bool {
    match (model, real) {
        (Model::Closed(a), Breaker::Closed { failures: b }) => a == b,
        (Model::Open(a), Breaker::Open { until_ms: b }) => a == b,
        (Model::HalfOpen, Breaker::HalfOpen) => true,
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn breakers_follow_the_model(
        node_count in 1usize..5,
        script in prop::collection::vec((0u8..5, 0u64..3_000, 1u64..400), 1..120),
        gaps in prop::collection::vec(0u64..12_000, 1..20),
        jitter in 0.0f64..1.0,
    ) {
        let mut nodes = Nodes::new(node_count, POLICY);
        let mut model = vec![Model::Closed(0); node_count];
        let mut not_before = vec![0u64; node_count];
        let mut script = script.into_iter();
        let mut now = 1_000u64;
        'checks: for gap in gaps {
            now += gap;
            let mut check = nodes.start(now);
            let started = now;
            // Nodes that failed in this round of the check (mirrors the machine's rounds).
            let mut failed_round = vec![false; node_count];
            loop {
                let new_round = failed_round.iter().all(|f| *f);
                if new_round {
                    failed_round.fill(false);
                }
                match nodes.next(&mut check, now, jitter) {
                    Step::Send { node, timeout_ms } => {
                        prop_assert!(node < node_count);
                        prop_assert!(check.attempts() <= POLICY.max_attempts);
                        prop_assert!(timeout_ms > 0 && timeout_ms <= POLICY.request_timeout_ms);
                        prop_assert!(now + timeout_ms <= started + POLICY.deadline_ms);
                        prop_assert!(now >= not_before[node], "asked before Retry-After");
                        // Asking an open node whose time came half-opens it.
                        match model[node] {
                            Model::Open(until) => {
                                prop_assert!(now >= until, "asked an open node");
                                model[node] = Model::HalfOpen;
                            }
                            Model::Closed(_) | Model::HalfOpen => {}
                        }
                        prop_assert!(matches(model[node], nodes.breaker(node).unwrap()));
                        let Some((kind, retry, took)) = script.next() else { break 'checks };
                        now += took.min(timeout_ms);
                        let o = outcome(kind, retry);
                        nodes.record(&mut check, node, now, o);
                        failed_round[node] = !o.is_success();
                        model[node] = if o.is_success() {
                            Model::Closed(0)
                        } else {
                            match model[node] {
                                Model::Closed(f) if f + 1 < POLICY.failure_threshold => Model::Closed(f + 1),
                                _ => Model::Open(now + POLICY.open_ms),
                            }
                        };
                        if let Outcome::Refused { retry_after_ms: Some(ms), .. } = o {
                            not_before[node] = now + ms.min(POLICY.max_retry_after_ms);
                        }
                        for (i, m) in model.iter().enumerate() {
                            prop_assert!(matches(*m, nodes.breaker(i).unwrap()), "node {i}: {m:?} vs {:?}", nodes.breaker(i));
                        }
                        if o.is_success() {
                            break;
                        }
                    }
                    Step::Wait { ms } => {
                        prop_assert!(ms > 0);
                        prop_assert!(now + ms < started + POLICY.deadline_ms);
                        now += ms;
                    }
                    Step::GiveUp => {
                        // Only when out of time or budget, when the backoff before a new
                        // round would pass the deadline, or when every node not yet failed
                        // this round is open or told us to wait past now.
                        let out_of_time = now >= started + POLICY.deadline_ms;
                        let out_of_budget = check.attempts() >= POLICY.max_attempts;
                        let blocked = (0..node_count).filter(|i| !failed_round[*i]).all(|i| {
                            let until = match model[i] { Model::Open(u) => u, _ => 0 };
                            until.max(not_before[i]) > now
                        });
                        prop_assert!(out_of_time || out_of_budget || new_round || blocked,
                            "gave up at {now} with time, budget and an available node");
                        break;
                    }
                }
            }
        }
    }
}
