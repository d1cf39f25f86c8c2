//! The audit log's hash chain: `hash = SHA-256(prev_hash || canonical JSON of the event)`.
//! Pure: computing and checking the chain needs no store.

use lifeline_api::AuditEvent;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The hash before the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The hashed part of an event (everything but the hashes).
#[derive(Debug, Serialize)]
pub(crate) struct EventBody<'a> {
    pub(crate) seq: u64,
    pub(crate) at: u64,
    pub(crate) actor: &'a str,
    pub(crate) action: &'a str,
    pub(crate) subject: &'a str,
    pub(crate) before: Option<&'a Value>,
    pub(crate) after: Option<&'a Value>,
}

/// The next hash in the chain.
pub(crate) fn chain_hash(prev_hash: &str, event: &EventBody<'_>) -> String {
    // serde_json writes struct fields in declaration order and object keys sorted
    // (no `preserve_order`), so this serialization is canonical.
    let body = serde_json::to_vec(event).unwrap_or_default();
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(&body);
    hex::encode(h.finalize())
}

/// Where a chain breaks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChainBreak {
    /// Events are missing or out of order.
    Gap {
        /// The sequence number expected.
        expected: u64,
        /// The one found.
        found: u64,
    },
    /// An event's `prev_hash` is not the previous event's hash.
    Link {
        /// The event.
        seq: u64,
    },
    /// An event's contents do not hash to its `hash`: it was altered.
    Tampered {
        /// The event.
        seq: u64,
    },
}

impl std::fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Gap { expected, found } => write!(f, "expected event {expected}, found {found}"),
            Self::Link { seq } => write!(f, "event {seq} does not link to the event before it"),
            Self::Tampered { seq } => write!(f, "event {seq} was altered after it was written"),
        }
    }
}

/// Checks a run of events continuing from (`prev_seq`, `prev_hash`); returns the new head.
pub fn verify_run(
    prev_seq: u64,
    prev_hash: &str,
    events: &[AuditEvent],
) -> Result<(u64, String), ChainBreak> {
    let (mut seq, mut hash) = (prev_seq, prev_hash.to_owned());
    for e in events {
        if e.seq != seq + 1 {
            return Err(ChainBreak::Gap {
                expected: seq + 1,
                found: e.seq,
            });
        }
        if e.prev_hash != hash {
            return Err(ChainBreak::Link { seq: e.seq });
        }
        let body = EventBody {
            seq: e.seq,
            at: e.at,
            actor: &e.actor,
            action: &e.action,
            subject: &e.subject,
            before: e.before.as_ref(),
            after: e.after.as_ref(),
        };
        if chain_hash(&hash, &body) != e.hash {
            return Err(ChainBreak::Tampered { seq: e.seq });
        }
        seq = e.seq;
        hash.clone_from(&e.hash);
    }
    Ok((seq, hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: u64, prev: &str, action: &str) -> AuditEvent {
        let after = serde_json::json!({"x": seq});
        let body = EventBody {
            seq,
            at: 100 + seq,
            actor: "admin",
            action,
            subject: "s",
            before: None,
            after: Some(&after),
        };
        let hash = chain_hash(prev, &body);
        AuditEvent {
            seq,
            at: 100 + seq,
            actor: "admin".into(),
            action: action.into(),
            subject: "s".into(),
            before: None,
            after: Some(after),
            prev_hash: prev.into(),
            hash,
        }
    }

    fn chain(n: u64) -> Vec<AuditEvent> {
        let mut out: Vec<AuditEvent> = Vec::new();
        for seq in 1..=n {
            let prev = out.last().map_or(GENESIS.to_owned(), |e| e.hash.clone());
            out.push(event(seq, &prev, "license.issued"));
        }
        out
    }

    #[test]
    fn an_intact_chain_verifies() {
        let c = chain(5);
        assert_eq!(verify_run(0, GENESIS, &c).unwrap(), (5, c[4].hash.clone()));
    }

    #[test]
    fn alterations_gaps_and_relinks_are_found() {
        let mut c = chain(4);
        c[2].actor = "mallory".into();
        assert_eq!(
            verify_run(0, GENESIS, &c),
            Err(ChainBreak::Tampered { seq: 3 })
        );
        let mut c = chain(4);
        c.remove(1);
        assert_eq!(
            verify_run(0, GENESIS, &c),
            Err(ChainBreak::Gap {
                expected: 2,
                found: 3
            })
        );
        let mut c = chain(4);
        c[3].prev_hash = GENESIS.into();
        assert_eq!(verify_run(0, GENESIS, &c), Err(ChainBreak::Link { seq: 4 }));
    }
}
