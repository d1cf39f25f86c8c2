//! Drills started on this node: the console's **Run** button (`POST /api/v1/drill-runs`) and
//! the demo's first drill. One at a time per node; each run's steps and result are kept in
//! the node's memory (the last [`KEPT_RUNS`]), its report in the store like any other.
//!
//! The drill itself belongs to the program embedding the server ([`DrillLauncher`]):
//! `lifeline serve` runs `lifeline drill run NAME` as a child process with its own lab of
//! nodes and verifiers, exactly as the CLI does. A server without a launcher (a library
//! user's) answers 503 `drills_unavailable`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use lifeline_api::{DrillReport, DrillRun, DrillRunStatus};

/// Runs kept in memory, newest last.
pub const KEPT_RUNS: usize = 20;

/// A launcher stops a drill that has not ended after this long and says so (an error, no
/// report): the node is free for the next one.
pub const DRILL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Steps kept per run (the last ones).
pub(crate) const KEPT_STEPS: usize = 50;

/// Runs one drill to its end. Called on a blocking thread; `step` receives each progress
/// line as it happens.
pub trait DrillLauncher: Send + Sync + std::fmt::Debug + 'static {
    /// The drill's report, or why it could not run.
    fn run(&self, name: &str, step: &mut dyn FnMut(String)) -> Result<DrillReport, String>;
}

/// How a run ended.
pub(crate) enum Ended {
    /// Its report, stored under this id.
    Reported { passed: bool, report_id: String },
    /// It could not run, or its report could not be stored.
    Failed(String),
}

/// This node's drill runs.
#[derive(Debug, Default)]
pub(crate) struct DrillRuns {
    launcher: OnceLock<Arc<dyn DrillLauncher>>,
    runs: Mutex<VecDeque<DrillRun>>,
}

impl DrillRuns {
    pub(crate) fn set_launcher(&self, launcher: Arc<dyn DrillLauncher>) {
        let _ = self.launcher.set(launcher);
    }

    pub(crate) fn launcher(&self) -> Option<Arc<dyn DrillLauncher>> {
        self.launcher.get().cloned()
    }

    fn runs(&self) -> std::sync::MutexGuard<'_, VecDeque<DrillRun>> {
        self.runs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a new run as running, unless one is running: then that one is the error.
    pub(crate) fn begin(
        &self,
        id: String,
        name: &str,
        started_by: &str,
        now: u64,
    ) -> Result<DrillRun, Box<DrillRun>> {
        let mut runs = self.runs();
        if let Some(running) = runs.iter().find(|r| r.status == DrillRunStatus::Running) {
            return Err(Box::new(running.clone()));
        }
        let run = DrillRun {
            id,
            name: name.to_owned(),
            started_by: started_by.to_owned(),
            started_at: now,
            finished_at: None,
            status: DrillRunStatus::Running,
            steps: Vec::new(),
            report_id: None,
            error: None,
        };
        runs.push_back(run.clone());
        while runs.len() > KEPT_RUNS {
            runs.pop_front();
        }
        Ok(run)
    }

    /// A progress line of a running run.
    pub(crate) fn step(&self, id: &str, line: String) {
        if let Some(run) = self.runs().iter_mut().find(|r| r.id == id) {
            run.steps.push(line);
            if run.steps.len() > KEPT_STEPS {
                let extra = run.steps.len() - KEPT_STEPS;
                run.steps.drain(..extra);
            }
        }
    }

    /// Marks a run done.
    pub(crate) fn finish(&self, id: &str, now: u64, ended: Ended) {
        if let Some(run) = self.runs().iter_mut().find(|r| r.id == id) {
            run.finished_at = Some(now);
            match ended {
                Ended::Reported { passed, report_id } => {
                    run.status = if passed {
                        DrillRunStatus::Passed
                    } else {
                        DrillRunStatus::Failed
                    };
                    run.report_id = Some(report_id);
                }
                Ended::Failed(why) => {
                    run.status = DrillRunStatus::Error;
                    run.error = Some(why);
                }
            }
        }
    }

    /// Every kept run, newest first.
    pub(crate) fn list(&self) -> Vec<DrillRun> {
        self.runs().iter().rev().cloned().collect()
    }

    pub(crate) fn get(&self, id: &str) -> Option<DrillRun> {
        self.runs().iter().find(|r| r.id == id).cloned()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use super::*;

    #[test]
    fn one_run_at_a_time_and_the_kept_ones_are_bounded() {
        let runs = DrillRuns::default();
        let first = runs.begin("a".into(), "one-node-down", "t", 10).unwrap();
        assert_eq!(first.status, DrillRunStatus::Running);
        let refused = runs
            .begin("b".into(), "store-unavailable", "t", 11)
            .unwrap_err();
        assert_eq!(refused.id, "a", "the running one is named");
        for i in 0..(KEPT_STEPS + 5) {
            runs.step("a", format!("step {i}"));
        }
        let steps = runs.get("a").unwrap().steps;
        assert_eq!(steps.len(), KEPT_STEPS);
        assert_eq!(steps.last().unwrap(), &format!("step {}", KEPT_STEPS + 4));
        runs.finish(
            "a",
            12,
            Ended::Reported {
                passed: false,
                report_id: "r".into(),
            },
        );
        let done = runs.get("a").unwrap();
        assert_eq!(
            (done.status, done.report_id.as_deref(), done.finished_at),
            (DrillRunStatus::Failed, Some("r"), Some(12))
        );
        for i in 0..(KEPT_RUNS + 3) {
            let id = format!("r{i}");
            runs.begin(id.clone(), "seat-race", "t", 20).unwrap();
            runs.finish(&id, 21, Ended::Failed("lab did not start".into()));
        }
        let list = runs.list();
        assert_eq!(list.len(), KEPT_RUNS);
        assert_eq!(list[0].id, format!("r{}", KEPT_RUNS + 2), "newest first");
        assert_eq!(list[0].status, DrillRunStatus::Error);
        assert!(runs.get("a").is_none(), "the oldest were dropped");
    }
}
