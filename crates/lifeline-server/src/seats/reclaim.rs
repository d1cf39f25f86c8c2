//! The outage-aware reclaim rule, pure: a floating seat is taken back only after
//! `heartbeat_s` of *service time* without a heartbeat. Service time is wall time minus the
//! outages that overlap it: spans when no node could run the sweep or write the store (every
//! node down, the store unwritable) and, for a seat, spans when the node that last answered
//! for it was unreachable. A client whose heartbeats failed only because of Lifeline
//! therefore never loses its seat; one that truly died loses it `heartbeat_s` of healthy
//! service after its last heartbeat.

/// A span of wall time, unix seconds, `start` inclusive, `end` exclusive, when the service
/// could not take heartbeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Outage {
    pub(crate) start: u64,
    pub(crate) end: u64,
}

/// Seconds of service time in `[from, to)`: wall seconds minus the union of `outages`
/// within it (overlapping outages count once).
pub(crate) fn service_secs(from: u64, to: u64, outages: &[Outage]) -> u64 {
    if to <= from {
        return 0;
    }
    let mut spans: Vec<(u64, u64)> = outages
        .iter()
        .map(|o| (o.start.max(from), o.end.min(to)))
        .filter(|(s, e)| s < e)
        .collect();
    spans.sort_unstable();
    let mut down = 0;
    let mut covered_to = from;
    for (start, end) in spans {
        let start = start.max(covered_to);
        if end > start {
            down += end - start;
            covered_to = end;
        }
    }
    (to - from) - down
}

/// Whether a seat whose last heartbeat was at `last_heartbeat` is due for reclaim at `now`:
/// more than `heartbeat_s` of service time without one.
pub(crate) fn due(last_heartbeat: u64, heartbeat_s: u64, now: u64, outages: &[Outage]) -> bool {
    service_secs(last_heartbeat, now, outages) > heartbeat_s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn o(start: u64, end: u64) -> Outage {
        Outage { start, end }
    }

    #[test]
    fn without_outages_service_time_is_wall_time() {
        assert_eq!(service_secs(100, 250, &[]), 150);
        assert_eq!(service_secs(250, 100, &[]), 0, "an empty span");
        assert!(!due(100, 120, 220, &[]));
        assert!(due(100, 120, 221, &[]));
    }

    #[test]
    fn outages_inside_overlapping_and_outside_the_span() {
        // Inside: 30 s down.
        assert_eq!(service_secs(0, 100, &[o(10, 40)]), 70);
        // Overlapping the edges: clipped to the span.
        assert_eq!(service_secs(0, 100, &[o(0, 0), o(90, 500)]), 90);
        // Overlapping each other: counted once.
        assert_eq!(service_secs(0, 100, &[o(10, 40), o(30, 60), o(35, 45)]), 50);
        // Before or after: nothing.
        assert_eq!(service_secs(100, 200, &[o(0, 100), o(200, 300)]), 100);
    }

    #[test]
    fn a_seat_survives_an_outage_longer_than_its_heartbeat() {
        // Heartbeat at 1000, every node down from 1010 to 1400, a 120 s policy: at 1400 only
        // 10 s of service time have passed.
        let down = [o(1010, 1400)];
        assert!(!due(1000, 120, 1400, &down));
        // It is reclaimed 120 s of service after its last heartbeat: at 1510 + 1.
        assert!(!due(1000, 120, 1510, &down));
        assert!(due(1000, 120, 1511, &down));
    }

    fn outages() -> impl Strategy<Value = Vec<Outage>> {
        prop::collection::vec((0u64..2_000, 0u64..600), 0..8)
            .prop_map(|v| v.into_iter().map(|(s, len)| o(s, s + len)).collect())
    }

    proptest! {
        #[test]
        fn service_time_is_wall_time_less_the_down_seconds(
            from in 0u64..2_000, len in 0u64..2_000, down in outages(),
        ) {
            let to = from + len;
            // The model: count each second of [from, to) that no outage covers.
            let model = (from..to)
                .filter(|t| !down.iter().any(|o| o.start <= *t && *t < o.end))
                .count() as u64;
            prop_assert_eq!(service_secs(from, to, &down), model);
        }

        #[test]
        fn more_outages_never_bring_a_reclaim_sooner(
            from in 0u64..2_000, len in 0u64..2_000, down in outages(), extra in outages(),
            heartbeat in 10u64..600,
        ) {
            let mut more = down.clone();
            more.extend(extra);
            let now = from + len;
            prop_assert!(service_secs(from, now, &more) <= service_secs(from, now, &down));
            prop_assert!(!due(from, heartbeat, now, &more) || due(from, heartbeat, now, &down));
        }

        /// A client that heartbeats every `heartbeat / 2` whenever the service is up (its
        /// attempts during outages fail) is never reclaimed, however the outages fall.
        #[test]
        fn a_client_stopped_only_by_outages_keeps_its_seat(
            heartbeat in 10u64..300, down in outages(), end in 100u64..3_000,
        ) {
            let up = |t: u64| !down.iter().any(|o| o.start <= t && t < o.end);
            let mut last = 0;
            let mut next = 0;
            for now in 0..end {
                prop_assert!(!due(last, heartbeat, now, &down), "reclaimed at {} (last heartbeat {})", now, last);
                if now >= next && up(now) {
                    last = now;
                    next = now + heartbeat / 2;
                }
            }
        }

        /// A client that died at `died` is reclaimed within `heartbeat` + 1 s of service time
        /// after its last heartbeat, never before.
        #[test]
        fn a_dead_client_is_reclaimed_after_heartbeat_s_of_service(
            heartbeat in 10u64..300, died in 0u64..1_000, down in outages(),
        ) {
            let first_due = (died..died + 5_000).find(|now| due(died, heartbeat, *now, &down));
            let first_due = first_due.expect("reclaimed eventually");
            prop_assert_eq!(service_secs(died, first_due, &down), heartbeat + 1);
        }
    }
}
