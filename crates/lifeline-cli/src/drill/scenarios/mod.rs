//! The drills: each injects one fault into a fresh lab, measures detection (an incident
//! opened, or readiness lost), what the verifiers saw and the recovery, and states its
//! expectations. Faults on the servers go through `PUT /api/v1/faults`; faults on the
//! verifier's side (its files, its clock) are made by the drill itself.

use super::Record;
use super::lab::Lab;
use crate::failure::CliError;

mod key_leak;
mod seats;
mod servers;
mod verifiers;
mod watch;

/// A drill.
pub(crate) struct Drill {
    /// Kebab-case name.
    pub(crate) name: &'static str,
    /// One line: what it rehearses.
    pub(crate) about: &'static str,
    /// The fault, for the report.
    pub(crate) fault: &'static str,
    pub(crate) run: fn(&mut Lab, &mut Record) -> Result<(), CliError>,
}

/// Every drill, in `drill list` order.
pub(crate) const DRILLS: &[Drill] = &[
    Drill {
        name: "expired-signing-key",
        about: "the active signing key passes its maximum age; rotation fixes it",
        fault: "the active signing key's start moved back past the maximum key age (365 days)",
        run: servers::expired_signing_key,
    },
    Drill {
        name: "key-rotated-mid-traffic",
        about: "the signing key is rotated while verifiers check",
        fault: "POST /api/v1/keys/rotate under a steady stream of checks",
        run: servers::key_rotated_mid_traffic,
    },
    Drill {
        name: "one-node-down",
        about: "one of three validation nodes is unreachable for 8 s",
        fault: "partition of node 0 for 8 s (connections dropped, no heartbeat)",
        run: servers::one_node_down,
    },
    Drill {
        name: "all-nodes-down",
        about: "every validation node is unreachable for 7 s",
        fault: "partition of all three validation nodes for 7 s",
        run: servers::all_nodes_down,
    },
    Drill {
        name: "node-hanging",
        about: "one node answers validate only after 2.5 s",
        fault: "node 0 stalls every validate for 2.5 s, for 8 s",
        run: servers::node_hanging,
    },
    Drill {
        name: "corrupted-license-file",
        about: "the verifier's license file is truncated, altered, garbage or empty",
        fault: "the license file corrupted four ways",
        run: verifiers::corrupted_license_file,
    },
    Drill {
        name: "corrupted-lease-cache",
        about: "the verifier's lease cache is garbage or holds a tampered lease",
        fault: "the lease cache file corrupted, with nodes up and with nodes down",
        run: verifiers::corrupted_lease_cache,
    },
    Drill {
        name: "clock-skewed-ahead",
        about: "one node's clock runs an hour ahead",
        fault: "node 0's clock +3600 s, then node 0 and later every node unreachable",
        run: verifiers::clock_skewed_ahead,
    },
    Drill {
        name: "clock-set-back",
        about: "the verifier's clock is set back a day",
        fault: "the verifier's clock -86400 s, offline and online",
        run: verifiers::clock_set_back,
    },
    Drill {
        name: "replayed-old-lease",
        about: "one node replays an old signed answer, then the license is revoked",
        fault: "node 0 answers every validate with its first answer (an old lease)",
        run: verifiers::replayed_old_lease,
    },
    Drill {
        name: "revoked-during-outage",
        about: "a license is revoked while every validation node is unreachable",
        fault: "partition of all validation nodes for 6 s; revocation on the admin node meanwhile",
        run: verifiers::revoked_during_outage,
    },
    Drill {
        name: "store-unavailable",
        about: "the database is locked for 8 s",
        fault: "an exclusive lock on the SQLite store for 8 s",
        run: servers::store_unavailable,
    },
    Drill {
        name: "seat-race",
        about: "64 machines activate at once, through three nodes, for the last 5 seats",
        fault: "64 concurrent activations for a license with 5 floating seats, spread over three nodes sharing one store",
        run: seats::seat_race,
    },
    Drill {
        name: "crashed-clients",
        about: "half the machines holding floating seats crash",
        fault: "3 of 6 machines holding seats (heartbeat_s 20) SIGKILLed: no release",
        run: seats::crashed_clients,
    },
    Drill {
        name: "heartbeat-outage",
        about: "every node is unreachable for three heartbeat periods while machines hold seats",
        fault: "partition of all three validation nodes for 30 s (heartbeat_s 10)",
        run: seats::heartbeat_outage,
    },
    Drill {
        name: "signing-key-leaked",
        about: "the signing key leaks; a thief mints licenses before and after `lifeline keys compromise`",
        fault: "the active signing key's private half copied from the store; forged licenses (new ids, raised entitlements, far expiries) under it; 2,000 licenses, live CLI and JS clients",
        run: key_leak::signing_key_leaked,
    },
];
