//! Seat activity by key over the last hour, one bucket per unix minute: activations refused
//! by license, new seats by licensee. Node-local and bounded (at most [`MAX_KEYS`] keys; a
//! new key beyond that evicts the quietest), for the `seat_exhaustion` and
//! `activation_surge` rules.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// The most keys kept.
pub(crate) const MAX_KEYS: usize = 10_000;
/// Minutes kept.
const MINUTES: u64 = 60;

/// Counts per key and minute.
#[derive(Debug, Default)]
pub(crate) struct Activity {
    counts: Mutex<BTreeMap<String, BTreeMap<u64, u64>>>,
}

impl Activity {
    /// Counts one event for `key` at `now` (unix seconds).
    pub(crate) fn add(&self, key: &str, now: u64) {
        let minute = now / 60;
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !counts.contains_key(key) && counts.len() >= MAX_KEYS {
            let quietest = counts
                .iter()
                .min_by_key(|(_, m)| m.values().sum::<u64>())
                .map(|(k, _)| k.clone());
            if let Some(k) = quietest {
                counts.remove(&k);
            }
        }
        let minutes = counts.entry(key.to_owned()).or_default();
        *minutes.entry(minute).or_default() += 1;
        minutes.retain(|m, _| m + MINUTES > minute);
    }

    /// Per key: the events in the last `secs` up to `now` (whole minutes, as the rules'
    /// other figures), and those in the rest of the hour before them.
    pub(crate) fn recent(&self, now: u64, secs: u64) -> BTreeMap<String, (u64, u64)> {
        let last = now / 60;
        let window = secs.div_ceil(60).clamp(1, MINUTES);
        let counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        counts
            .iter()
            .map(|(k, minutes)| {
                let (mut inside, mut before) = (0, 0);
                for (m, n) in minutes {
                    if m + window > last && *m <= last {
                        inside += n;
                    } else if m + MINUTES > last && *m <= last {
                        before += n;
                    }
                }
                (k.clone(), (inside, before))
            })
            .filter(|(_, (inside, before))| inside + before > 0)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_split_into_the_window_and_the_hour_before() {
        let a = Activity::default();
        let now = 1_800_000_000; // a whole minute
        for _ in 0..3 {
            a.add("lic-1", now);
        }
        a.add("lic-1", now - 600);
        a.add("lic-1", now - 7200);
        a.add("lic-2", now - 120);
        let r = a.recent(now + 10, 60);
        assert_eq!(r["lic-1"], (3, 1), "the old one is gone");
        assert_eq!(r["lic-2"], (0, 1));
        assert_eq!(a.recent(now + 10, 300)["lic-2"], (1, 0));
    }

    #[test]
    fn keys_are_bounded() {
        let a = Activity::default();
        for i in 0..MAX_KEYS + 5 {
            a.add(&format!("k{i}"), 1_800_000_000);
        }
        assert_eq!(a.recent(1_800_000_000, 60).len(), MAX_KEYS);
    }
}
