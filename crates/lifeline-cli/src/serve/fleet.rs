//! The demo's fleet (`lifeline serve --demo`): a few verifiers that use the server as real
//! ones do, so a fresh demo's charts, edge section and incidents have life within a minute.
//!
//! Each service is a thread: it checks demo licenses through the real `POST
//! /api/v1/validate` and verifies them itself with the core (the keys from
//! `/.well-known/lifeline/keys.json`), and posts its verdicts as telemetry every few seconds,
//! like an edge verifier. Now and then things go wrong, on purpose and on a timetable:
//! - `edge-eu` (Photo Pro): a steady 3 checks a second, one in twenty on an expired license
//!   and one in twenty on a license in grace;
//! - `edge-us` (Video Pro): the same, and every [`SLOW_EVERY`] its host is slow for
//!   [`SLOW_FOR`] (each verification takes 250 to 700 ms longer, as measured);
//! - `partner-portal` (Photo Pro): one check a second, and every [`BURST_EVERY`] (the first
//!   [`FIRST_BURST`] after the start) a burst of tokens with a forged signature for
//!   [`BURST_FOR`] (five a second), which the rules answer with `reason_surge` and
//!   `edge_failure_ratio` incidents.
//!
//! The threads live as long as the process: stopping the server stops them. A failed request
//! is skipped (a demo fleet never retries in a loop); the first failure of each kind is said
//! once on stderr, never with a token.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use lifeline_api::{License, LicensePage, LicenseState};
use lifeline_core::{KeySet, Policy, TelemetryBatch, UnixTime, Verifier};

/// How often a slow spell comes to `edge-us`, and how long it lasts.
pub(crate) const SLOW_EVERY: Duration = Duration::from_secs(180);
pub(crate) const SLOW_FOR: Duration = Duration::from_secs(40);

/// Bursts of forged tokens at `partner-portal`.
pub(crate) const FIRST_BURST: Duration = Duration::from_secs(20);
pub(crate) const BURST_EVERY: Duration = Duration::from_secs(240);
pub(crate) const BURST_FOR: Duration = Duration::from_secs(15);
const BURST_PAUSE: Duration = Duration::from_millis(200);

/// Telemetry is posted this often per service.
const TELEMETRY_EVERY: Duration = Duration::from_secs(5);

/// One verifier service of the fleet.
struct Service {
    name: &'static str,
    product: &'static str,
    /// Pause between two checks.
    every: Duration,
    slow_spells: bool,
    bursts: bool,
}

const SERVICES: [Service; 3] = [
    Service {
        name: "edge-eu",
        product: "photo-pro",
        every: Duration::from_millis(330),
        slow_spells: false,
        bursts: false,
    },
    Service {
        name: "edge-us",
        product: "video-pro",
        every: Duration::from_millis(330),
        slow_spells: true,
        bursts: false,
    },
    Service {
        name: "partner-portal",
        product: "photo-pro",
        every: Duration::from_millis(1000),
        slow_spells: false,
        bursts: true,
    },
];

/// Starts the fleet against the server at `url` (reads the demo's licenses with `token`, an
/// admin token held in memory only, and posts telemetry with it).
pub(crate) fn start(url: String, token: String) {
    for service in SERVICES {
        let (url, token) = (url.clone(), token.clone());
        std::thread::spawn(move || Verifiers::new(service, url, token).run());
    }
    eprintln!(
        "lifeline: demo fleet: {} verifier services checking demo licenses (off without --demo)",
        SERVICES.len()
    );
}

struct Verifiers {
    service: Service,
    url: String,
    token: String,
    agent: ureq::Agent,
    said: HashSet<&'static str>,
}

impl Verifiers {
    fn new(service: Service, url: String, token: String) -> Self {
        Self {
            service,
            url,
            token,
            agent: crate::remote::agent(Duration::from_secs(5)),
            said: HashSet::new(),
        }
    }

    /// Says a failure once per kind.
    fn once(&mut self, kind: &'static str, what: impl std::fmt::Display) {
        if self.said.insert(kind) {
            eprintln!("lifeline: demo fleet: {}: {what}", self.service.name);
        }
    }

    fn run(mut self) {
        let started = Instant::now();
        let (licenses, keys) = loop {
            match self.licenses().and_then(|l| Ok((l, self.keys()?))) {
                Ok(found) => break found,
                Err(why) => self.once("start", format!("waiting for the server: {why}")),
            }
            if started.elapsed() > Duration::from_secs(120) {
                self.once(
                    "gave up",
                    "the server did not answer for 2 min: fleet stopped",
                );
                return;
            }
            std::thread::sleep(Duration::from_secs(1));
        };
        let in_state = |state: LicenseState| -> Vec<&License> {
            licenses.iter().filter(|l| l.state == state).collect()
        };
        let (valid, grace, expired) = (
            in_state(LicenseState::Valid),
            in_state(LicenseState::Grace),
            in_state(LicenseState::Expired),
        );
        if valid.is_empty() {
            let product = self.service.product;
            self.once(
                "empty",
                format!("no valid {product} license: nothing to check"),
            );
            return;
        }
        let mut verifier = Verifier::new(keys, Policy::default());
        let mut batch = TelemetryBatch::new();
        let instance = format!("{}-1", self.service.name);
        let mut last_post = Instant::now();
        for tick in 0u64.. {
            let since = started.elapsed();
            let bursting =
                self.service.bursts && in_spell(since, FIRST_BURST, BURST_EVERY, BURST_FOR);
            // Mostly valid licenses; now and then an expired one (refused) or one in grace.
            let license = match tick % 20 {
                _ if bursting => pick(&valid, tick),
                11 => pick(&expired, tick).or_else(|| pick(&valid, tick)),
                17 => pick(&grace, tick).or_else(|| pick(&valid, tick)),
                _ => pick(&valid, tick),
            };
            let Some(license) = license else { return };
            let token = if bursting {
                forged(&license.token)
            } else {
                license.token.clone()
            };
            let began = Instant::now();
            if self.service.slow_spells && in_spell(since, SLOW_EVERY, SLOW_EVERY, SLOW_FOR) {
                std::thread::sleep(Duration::from_millis(250 + (tick * 37) % 450));
            }
            let now = UnixTime::from_secs(crate::drill::unix_now());
            let verdict = verifier.verify(token.as_bytes(), now);
            batch.record(&verdict, began.elapsed().as_secs_f64(), now);
            self.validate(&token, &instance);
            if last_post.elapsed() >= TELEMETRY_EVERY {
                last_post = Instant::now();
                match batch.drain(self.service.name, &instance, now) {
                    Ok(report) => self.post("/api/v1/telemetry", &serde_json::json!(report)),
                    Err(e) => self.once("telemetry", e),
                }
            }
            // A burst comes fast: five forged tokens a second.
            let pause = if bursting {
                BURST_PAUSE
            } else {
                self.service.every
            };
            std::thread::sleep(pause);
        }
    }

    fn get(&mut self, path: &str) -> Result<Vec<u8>, String> {
        let url = format!("{}{path}", self.url);
        let mut answer = self
            .agent
            .get(&url)
            .header("authorization", &format!("Bearer {}", self.token))
            .call()
            .map_err(|e| format!("GET {path}: {e}"))?;
        let status = answer.status().as_u16();
        if status != 200 {
            return Err(format!("GET {path}: HTTP {status}"));
        }
        answer
            .body_mut()
            .read_to_vec()
            .map_err(|e| format!("GET {path}: {e}"))
    }

    /// The demo's licenses of this service's product (one page: the demo has a few dozen).
    fn licenses(&mut self) -> Result<Vec<License>, String> {
        let path = format!(
            "/api/v1/licenses?product={}&limit=200",
            self.service.product
        );
        let page: LicensePage =
            serde_json::from_slice(&self.get(&path)?).map_err(|e| format!("GET {path}: {e}"))?;
        Ok(page.items)
    }

    fn keys(&mut self) -> Result<KeySet, String> {
        let bytes = self.get("/.well-known/lifeline/keys.json")?;
        KeySet::from_jwks_json(&bytes).map_err(|e| format!("the key set: {e}"))
    }

    fn validate(&mut self, token: &str, instance: &str) {
        let body = serde_json::json!({ "token": token, "instance": instance });
        self.post("/api/v1/validate", &body);
    }

    fn post(&mut self, path: &'static str, body: &serde_json::Value) {
        let url = format!("{}{path}", self.url);
        let sent = self
            .agent
            .post(&url)
            .header("authorization", &format!("Bearer {}", self.token))
            .send_json(body);
        match sent {
            Ok(answer) if answer.status().as_u16() >= 500 || answer.status().as_u16() == 429 => {
                self.once(
                    path,
                    format!("POST {path}: HTTP {}", answer.status().as_u16()),
                );
            }
            Ok(_) => {}
            Err(e) => self.once(path, format!("POST {path}: {e}")),
        }
    }
}

/// Whether `since` (time since the start) falls in a spell that starts at `first` and
/// recurs every `every`, lasting `length`.
fn in_spell(since: Duration, first: Duration, every: Duration, length: Duration) -> bool {
    since
        .checked_sub(first)
        .is_some_and(|after| after.as_millis() % every.as_millis().max(1) < length.as_millis())
}

fn pick<'a>(from: &[&'a License], tick: u64) -> Option<&'a License> {
    let i = usize::try_from(tick).unwrap_or(0) % from.len().max(1);
    from.get(i).copied()
}

/// A token whose signature's first character is changed: a forgery the core refuses with
/// `bad_signature`.
fn forged(token: &str) -> String {
    match token.rfind('.') {
        Some(dot) => {
            let (head, sig) = token.split_at(dot + 1);
            let mut chars: Vec<char> = sig.chars().collect();
            if let Some(c) = chars.first_mut() {
                *c = if *c == 'A' { 'B' } else { 'A' };
            }
            format!("{head}{}", chars.into_iter().collect::<String>())
        }
        None => format!("{token}x"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn spells_start_after_their_first_and_recur_for_their_length() {
        let s = Duration::from_secs;
        let spell = |at: u64| in_spell(s(at), FIRST_BURST, BURST_EVERY, BURST_FOR);
        assert!(!spell(0) && !spell(19));
        assert!(spell(20) && spell(34));
        assert!(!spell(35) && !spell(259));
        assert!(spell(260) && !spell(275));
        // A zero period never divides by zero.
        assert!(!in_spell(s(5), s(0), s(0), s(0)));
    }

    #[test]
    fn a_forged_token_differs_only_in_its_signature() {
        let token = "aGVhZA.cGF5bG9hZA.AAAAsig";
        let forged = forged(token);
        assert_ne!(forged, token);
        assert_eq!(forged.len(), token.len());
        assert!(forged.starts_with("aGVhZA.cGF5bG9hZA.B"));
        assert_eq!(super::forged(&token.replace(".AAAA", ".BAAA")), token);
        assert_eq!(super::forged("no-dots"), "no-dotsx");
    }
}
