//! The validation client's decisions, step by step.

use super::*;

fn policy() -> ClientPolicy {
    ClientPolicy {
        request_timeout_ms: 1000,
        deadline_ms: 5000,
        max_attempts: 5,
        backoff_base_ms: 100,
        backoff_max_ms: 400,
        failure_threshold: 2,
        open_ms: 10_000,
        max_retry_after_ms: 3_000,
    }
}

fn send(step: Step) -> usize {
    match step {
        Step::Send { node, .. } => node,
        other => panic!("expected a request, got {other:?}"),
    }
}

#[test]
fn the_node_that_answered_last_is_asked_first() {
    let mut nodes = Nodes::new(3, policy());
    let mut check = nodes.start(0);
    assert_eq!(send(nodes.next(&mut check, 0, 0.5)), 0);
    nodes.record(&mut check, 0, 10, Outcome::Unreachable);
    assert_eq!(send(nodes.next(&mut check, 10, 0.5)), 1);
    nodes.record(&mut check, 1, 20, Outcome::Answered);
    let mut check = nodes.start(100);
    assert_eq!(send(nodes.next(&mut check, 100, 0.5)), 1);
}

#[test]
fn when_every_node_failed_it_backs_off_then_gives_up_at_the_budget() {
    let mut nodes = Nodes::new(
        2,
        ClientPolicy {
            failure_threshold: 10,
            ..policy()
        },
    );
    let mut check = nodes.start(0);
    let mut now = 0;
    let mut waits = Vec::new();
    loop {
        match nodes.next(&mut check, now, 0.0) {
            Step::Send { node, timeout_ms } => {
                assert!(timeout_ms <= 1000);
                now += 5;
                nodes.record(&mut check, node, now, Outcome::TimedOut);
            }
            Step::Wait { ms } => {
                waits.push(ms);
                now += ms;
            }
            Step::GiveUp => break,
        }
    }
    assert_eq!(check.attempts(), 5, "the retry budget");
    // Equal jitter at 0: half the exponential backoff, doubling per round, capped.
    assert_eq!(waits, [50, 100]);
}

#[test]
fn a_circuit_opens_after_repeated_failures_and_half_opens_for_one_probe() {
    let mut nodes = Nodes::new(2, policy());
    for t in [0, 100] {
        let mut check = nodes.start(t);
        assert_eq!(send(nodes.next(&mut check, t, 0.5)), 0);
        nodes.record(&mut check, 0, t + 1, Outcome::Unreachable);
        assert_eq!(send(nodes.next(&mut check, t + 1, 0.5)), 1);
        nodes.record(&mut check, 1, t + 2, Outcome::Answered);
        // Node 1 answered: preferred. Put node 0 first again for the next round.
        nodes.preferred = 0;
    }
    assert_eq!(nodes.breaker(0), Some(Breaker::Open { until_ms: 10_101 }));
    // While open, node 0 is skipped even when preferred.
    let mut check = nodes.start(5_000);
    assert_eq!(send(nodes.next(&mut check, 5_000, 0.5)), 1);
    // After open_ms, one probe: it half-opens; a success closes it.
    nodes.preferred = 0;
    let mut check = nodes.start(10_101);
    assert_eq!(send(nodes.next(&mut check, 10_101, 0.5)), 0);
    assert_eq!(nodes.breaker(0), Some(Breaker::HalfOpen));
    nodes.record(&mut check, 0, 10_102, Outcome::Answered);
    assert_eq!(nodes.breaker(0), Some(Breaker::Closed { failures: 0 }));
}

#[test]
fn a_failed_probe_opens_the_circuit_again() {
    let mut nodes = Nodes::new(
        1,
        ClientPolicy {
            failure_threshold: 1,
            ..policy()
        },
    );
    let mut check = nodes.start(0);
    assert_eq!(send(nodes.next(&mut check, 0, 0.5)), 0);
    nodes.record(&mut check, 0, 1, Outcome::Invalid);
    assert_eq!(nodes.breaker(0), Some(Breaker::Open { until_ms: 10_001 }));
    let mut check = nodes.start(10_001);
    assert_eq!(send(nodes.next(&mut check, 10_001, 0.5)), 0);
    nodes.record(&mut check, 0, 10_002, Outcome::TimedOut);
    assert_eq!(nodes.breaker(0), Some(Breaker::Open { until_ms: 20_002 }));
}

#[test]
fn retry_after_keeps_a_node_out_until_it_passes() {
    let mut nodes = Nodes::new(
        2,
        ClientPolicy {
            failure_threshold: 10,
            ..policy()
        },
    );
    let mut check = nodes.start(0);
    assert_eq!(send(nodes.next(&mut check, 0, 0.5)), 0);
    let busy = Outcome::Refused {
        status: 503,
        retry_after_ms: Some(2_000),
    };
    nodes.record(&mut check, 0, 1, busy);
    assert_eq!(send(nodes.next(&mut check, 1, 0.5)), 1);
    nodes.record(&mut check, 1, 2, busy);
    // Both asked to wait 2 s: the client waits (after the round's backoff) rather than ask.
    let mut now = 2;
    loop {
        match nodes.next(&mut check, now, 0.5) {
            Step::Wait { ms } => now += ms,
            Step::Send { node, .. } => {
                assert!(
                    now >= 2_001,
                    "asked node {node} at {now}, before Retry-After"
                );
                break;
            }
            Step::GiveUp => panic!("gave up with time left"),
        }
    }
}

#[test]
fn the_deadline_bounds_timeouts_and_ends_the_check() {
    let mut nodes = Nodes::new(
        1,
        ClientPolicy {
            failure_threshold: 10,
            ..policy()
        },
    );
    let mut check = nodes.start(0);
    match nodes.next(&mut check, 4_500, 0.5) {
        Step::Send { timeout_ms, .. } => assert_eq!(timeout_ms, 500),
        other => panic!("{other:?}"),
    }
    nodes.record(&mut check, 0, 5_000, Outcome::TimedOut);
    assert_eq!(nodes.next(&mut check, 5_000, 0.5), Step::GiveUp);
    let mut none = Nodes::new(0, policy());
    let mut check = none.start(0);
    assert_eq!(none.next(&mut check, 0, 0.5), Step::GiveUp);
}
