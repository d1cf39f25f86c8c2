//! `lifeline drill list | run NAME [--json] [--report-to URL]`: rehearse a failure on purpose
//! against a real local setup (`lab.rs`), measure what happened and judge it against the
//! drill's expectations (`scenarios.rs`).

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lifeline_api::{DrillExpectation, DrillReport, DrillTimes, VerifierOutcomes};

use crate::failure::CliError;

mod lab;
mod launcher;
mod scenarios;
mod schedule;

pub(crate) use launcher::ChildDrills;
pub(crate) use schedule::Schedule;

/// Rehearse a failure: start nodes and verifiers on 127.0.0.1, inject a fault, measure.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Every drill, one a line: its name, then what it rehearses.
    List,
    /// Run one drill; exit 0 when it passed, 1 when an expectation failed, 2 when it could
    /// not run.
    Run(RunArgs),
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// The drill (see `lifeline drill list`).
    name: String,
    /// Print the report as one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Also store the report on this server (`POST /api/v1/drills`, shown on the console's
    /// Drills page), with the admin token in LIFELINE_ADMIN_TOKEN.
    #[arg(long, value_name = "URL")]
    report_to: Option<String>,
}

pub(crate) fn run(args: &Args) -> Result<ExitCode, CliError> {
    match &args.command {
        Command::List => {
            let mut out = std::io::stdout().lock();
            for drill in scenarios::DRILLS {
                writeln!(out, "{:<24} {}", drill.name, drill.about)
                    .map_err(|e| CliError::new(format!("cannot write: {e}")))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Run(run) => run_one(run),
    }
}

fn run_one(args: &RunArgs) -> Result<ExitCode, CliError> {
    let drill = scenarios::DRILLS
        .iter()
        .find(|d| d.name == args.name)
        .ok_or_else(|| {
            CliError::new(format!("no drill {:?}", args.name))
                .hint("`lifeline drill list` names them all")
        })?;
    let token = match &args.report_to {
        Some(_) => Some(
            std::env::var("LIFELINE_ADMIN_TOKEN")
                .ok()
                .filter(|t| !t.is_empty())
                .ok_or_else(|| {
                    CliError::new("--report-to needs the admin token in LIFELINE_ADMIN_TOKEN")
                })?,
        ),
        None => None,
    };
    step(&format!(
        "drill {}: starting 3 validation nodes and an admin node on 127.0.0.1",
        drill.name
    ));
    let mut lab = lab::Lab::start()?;
    step("lab ready: nodes up, a demo license and the key set fetched");
    let mut record = Record::new(drill.name, drill.fault);
    (drill.run)(&mut lab, &mut record)?;
    step("stopping the lab");
    drop(lab);
    let report = record.finish();
    step(&format!(
        "done: {}",
        if report.passed {
            "every expectation met"
        } else {
            "an expectation failed"
        }
    ));
    if let (Some(url), Some(token)) = (&args.report_to, &token) {
        store(url, token, &report)?;
    }
    let mut out = std::io::stdout().lock();
    let text = if args.json {
        serde_json::to_string(&report)
            .map_err(|e| CliError::new(format!("cannot encode the report: {e}")))?
    } else {
        render(&report)
    };
    writeln!(out, "{text}").map_err(|e| CliError::new(format!("cannot write: {e}")))?;
    Ok(if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn store(url: &str, token: &str, report: &DrillReport) -> Result<(), CliError> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let target = format!("{}/api/v1/drills", url.trim_end_matches('/'));
    let mut response = agent
        .post(&target)
        .header("authorization", &format!("Bearer {token}"))
        .send_json(report)
        .map_err(|e| CliError::new(format!("cannot store the report at {target}: {e}")))?;
    let status = response.status().as_u16();
    if status != 201 {
        let body = response.body_mut().read_to_string().unwrap_or_default();
        return Err(CliError::new(format!(
            "{target} refused the report: HTTP {status}: {body}"
        )));
    }
    Ok(())
}

fn render(r: &DrillReport) -> String {
    let ms = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v} ms"));
    let mut s = format!(
        "drill {}: {}\n  fault: {}\n  detected: {} ({})\n  recovered: {}\n  total: {} ms\n",
        r.name,
        if r.passed { "PASSED" } else { "FAILED" },
        r.fault,
        ms(r.times.detect_ms),
        r.detected_by
            .as_deref()
            .unwrap_or("not detected by the servers"),
        ms(r.times.recover_ms),
        r.times.total_ms,
    );
    let v = &r.verifiers;
    let states: Vec<String> = v.states.iter().map(|(k, n)| format!("{k} {n}")).collect();
    let reasons: Vec<String> = v.reasons.iter().map(|(k, n)| format!("{k} {n}")).collect();
    s.push_str(&format!(
        "  verifiers: {} checks, {} usable, {} lockouts; states: {}; reasons: {}\n",
        v.checks,
        v.usable,
        v.lockouts,
        states.join(", "),
        if reasons.is_empty() {
            "-".to_owned()
        } else {
            reasons.join(", ")
        }
    ));
    for e in &r.expectations {
        s.push_str(&format!(
            "  [{}] {} — {}\n",
            if e.met { "ok" } else { "FAIL" },
            e.expected,
            e.observed
        ));
    }
    for n in &r.notes {
        s.push_str(&format!("  note: {n}\n"));
    }
    s.trim_end().to_owned()
}

/// A progress line on stderr (stdout holds only the report): `lifeline serve` shows these as
/// the steps of a drill run from the console.
pub(crate) fn step(line: &str) {
    eprintln!("{line}");
}

/// Unix seconds now.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// What a drill measured, turned into its report by [`Record::finish`].
pub(crate) struct Record {
    name: &'static str,
    fault: &'static str,
    started_at: u64,
    started: Instant,
    detected_by: Option<String>,
    detect_ms: Option<u64>,
    recover_ms: Option<u64>,
    verifiers: VerifierOutcomes,
    expectations: Vec<DrillExpectation>,
    notes: Vec<String>,
}

impl Record {
    fn new(name: &'static str, fault: &'static str) -> Self {
        Self {
            name,
            fault,
            started_at: unix_now(),
            started: Instant::now(),
            detected_by: None,
            detect_ms: None,
            recover_ms: None,
            verifiers: VerifierOutcomes::default(),
            expectations: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// One expectation and whether it held.
    pub(crate) fn expect(&mut self, expected: &str, met: bool, observed: impl Into<String>) {
        let observed = observed.into();
        step(&format!(
            "[{}] {expected}: {observed}",
            if met { "ok" } else { "FAIL" }
        ));
        self.expectations.push(DrillExpectation {
            expected: expected.to_owned(),
            met,
            observed,
        });
    }

    pub(crate) fn detected(&mut self, by: &str, after: Duration) {
        step(&format!("detected by {by} after {} ms", ms(after)));
        self.detected_by = Some(by.to_owned());
        self.detect_ms = Some(ms(after));
    }

    pub(crate) fn recovered(&mut self, after: Duration) {
        step(&format!("recovered {} ms after the fault ended", ms(after)));
        self.recover_ms = Some(ms(after));
    }

    pub(crate) fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// Counts verdicts; a refusal `expected_refusal` does not accept is a lockout.
    pub(crate) fn verdicts(
        &mut self,
        seen: &[lab::Seen],
        expected_refusal: impl Fn(&lab::Seen) -> bool,
    ) {
        let v = &mut self.verifiers;
        for s in seen {
            v.checks += 1;
            *v.states.entry(s.state.clone()).or_default() += 1;
            if let Some(r) = &s.reason {
                *v.reasons.entry(r.clone()).or_default() += 1;
            }
            if s.usable() {
                v.usable += 1;
            } else if !expected_refusal(s) {
                v.lockouts += 1;
            }
        }
    }

    /// The lockout count so far, for expectations.
    pub(crate) fn lockouts(&self) -> u64 {
        self.verifiers.lockouts
    }

    fn finish(self) -> DrillReport {
        let passed = !self.expectations.is_empty() && self.expectations.iter().all(|e| e.met);
        DrillReport {
            name: self.name.to_owned(),
            fault: self.fault.to_owned(),
            passed,
            started_at: self.started_at,
            detected_by: self.detected_by,
            times: DrillTimes {
                detect_ms: self.detect_ms,
                recover_ms: self.recover_ms,
                total_ms: ms(self.started.elapsed()),
            },
            verifiers: self.verifiers,
            expectations: self.expectations,
            notes: self.notes,
        }
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
