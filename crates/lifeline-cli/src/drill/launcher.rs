//! How `lifeline serve` runs a drill asked for over the API (the console's Run button, the
//! demo's first drill): `lifeline drill run NAME --json` as a child process, with its own lab,
//! exactly as from a shell. Its stderr lines are the run's steps; its stdout is the report,
//! which the server stores.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Instant;

use lifeline_api::DrillReport;
use lifeline_server::{DRILL_TIMEOUT, DrillLauncher};

/// Runs drills as child processes of this executable.
#[derive(Debug, Default)]
pub(crate) struct ChildDrills;

impl DrillLauncher for ChildDrills {
    fn run(&self, name: &str, step: &mut dyn FnMut(String)) -> Result<DrillReport, String> {
        let exe = std::env::current_exe().map_err(|e| format!("cannot find lifeline: {e}"))?;
        let mut child = Command::new(exe)
            .args(["drill", "run", name, "--json"])
            .env_remove("LIFELINE_ADMIN_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start the drill: {e}"))?;
        let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
            let _ = child.kill();
            return Err("cannot read the drill's output".into());
        };
        let report = std::thread::spawn(move || {
            let mut text = String::new();
            BufReader::new(stdout)
                .read_to_string(&mut text)
                .map(|_| text)
        });
        let (lines, steps) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + DRILL_TIMEOUT;
        let mut last = String::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match steps.recv_timeout(left) {
                Ok(line) => {
                    let line = line.trim().to_owned();
                    if !line.is_empty() {
                        last.clone_from(&line);
                        step(line);
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!(
                        "stopped after {} min without an end",
                        DRILL_TIMEOUT.as_secs() / 60
                    ));
                }
            }
        }
        let status = child
            .wait()
            .map_err(|e| format!("lost the drill's process: {e}"))?;
        let text = report
            .join()
            .map_err(|_| "cannot read the drill's report".to_owned())?
            .map_err(|e| format!("cannot read the drill's report: {e}"))?;
        // Exit 0: passed, 1: an expectation failed; both print the report.
        match status.code() {
            Some(0 | 1) => serde_json::from_str(text.trim())
                .map_err(|e| format!("the drill printed no report ({e})")),
            _ => Err(if last.is_empty() {
                format!("the drill could not run ({status})")
            } else {
                last
            }),
        }
    }
}
