//! Scheduled drills: `lifeline serve --drills FILE.json` runs drills on a timer, each as
//! `lifeline drill run NAME --json --report-to THIS-SERVER` (its own lab, its own processes),
//! so their reports land on the console's Drills page.
//!
//! ```json
//! { "drills": [ { "name": "one-node-down", "every_s": 86400, "first_after_s": 600 } ] }
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::scenarios::DRILLS;
use crate::failure::CliError;

/// The shortest interval between two runs of one drill, seconds.
pub(crate) const MIN_EVERY_S: u64 = 60;

/// The `--drills` file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Schedule {
    drills: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    /// A drill of `lifeline drill list`.
    name: String,
    /// Run it this often, seconds (at least 60).
    every_s: u64,
    /// The first run this long after the server starts, seconds (default: `every_s`).
    first_after_s: Option<u64>,
}

impl Schedule {
    /// Reads and checks the file: known drill names, sane intervals.
    pub(crate) fn load(path: &Path) -> Result<Self, CliError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| CliError::new(format!("cannot read {}: {e}", path.display())))?;
        let schedule: Schedule = serde_json::from_str(&text).map_err(|e| {
            CliError::new(format!("{}: not a drill schedule: {e}", path.display()))
                .hint(r#"e.g. {"drills": [{"name": "one-node-down", "every_s": 86400}]}"#)
        })?;
        for entry in &schedule.drills {
            if !DRILLS.iter().any(|d| d.name == entry.name) {
                return Err(CliError::new(format!(
                    "{}: no drill {:?}",
                    path.display(),
                    entry.name
                ))
                .hint("`lifeline drill list` names them all"));
            }
            if entry.every_s < MIN_EVERY_S {
                return Err(CliError::new(format!(
                    "{}: {}: every_s must be at least {MIN_EVERY_S}",
                    path.display(),
                    entry.name
                )));
            }
        }
        Ok(schedule)
    }

    /// Runs the schedule on a thread for the life of the process. `server` is this server's
    /// URL; the admin token is read at each run from LIFELINE_ADMIN_TOKEN or
    /// `token_file` (the server writes it there on first start).
    pub(crate) fn start(self, server: String, token_file: PathBuf) {
        if self.drills.is_empty() {
            return;
        }
        std::thread::spawn(move || {
            let started = Instant::now();
            let mut next: Vec<Duration> = self
                .drills
                .iter()
                .map(|e| Duration::from_secs(e.first_after_s.unwrap_or(e.every_s)))
                .collect();
            loop {
                let Some((i, due)) = next.iter().copied().enumerate().min_by_key(|(_, d)| *d)
                else {
                    return;
                };
                let elapsed = started.elapsed();
                if due > elapsed {
                    std::thread::sleep(due - elapsed);
                }
                let Some(entry) = self.drills.get(i) else {
                    return;
                };
                run_one(&entry.name, &server, &token_file);
                if let Some(slot) = next.get_mut(i) {
                    *slot = due + Duration::from_secs(entry.every_s);
                }
            }
        });
    }
}

fn run_one(name: &str, server: &str, token_file: &Path) {
    let token = std::env::var("LIFELINE_ADMIN_TOKEN")
        .ok()
        .filter(|t| !t.is_empty())
        .or_else(|| {
            std::fs::read_to_string(token_file)
                .ok()
                .map(|t| t.trim().to_owned())
        });
    let Some(token) = token else {
        eprintln!(
            "lifeline: scheduled drill {name} skipped: no admin token (set LIFELINE_ADMIN_TOKEN or keep {})",
            token_file.display()
        );
        return;
    };
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("lifeline: scheduled drill {name} skipped: {e}");
            return;
        }
    };
    eprintln!("lifeline: scheduled drill {name}: running");
    let outcome = Command::new(exe)
        .args(["drill", "run", name, "--json", "--report-to", server])
        .env("LIFELINE_ADMIN_TOKEN", token)
        .output();
    match outcome {
        Ok(out) => {
            let verdict = match out.status.code() {
                Some(0) => "passed",
                Some(1) => "FAILED",
                _ => "could not run",
            };
            let stderr = String::from_utf8_lossy(&out.stderr);
            eprintln!(
                "lifeline: scheduled drill {name}: {verdict} (report stored){}{}",
                if stderr.trim().is_empty() { "" } else { ": " },
                stderr.trim()
            );
        }
        Err(e) => eprintln!("lifeline: scheduled drill {name}: cannot start: {e}"),
    }
}
