//! Progress of long work on stderr: a bar on a terminal, a line every two seconds otherwise
//! (provisioning, a key compromise's re-signing).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// A progress bar on a terminal, a line every few seconds otherwise.
pub(crate) struct Progress {
    total: usize,
    done: usize,
    started: Instant,
    last_line: Instant,
    tty: bool,
}

impl Progress {
    pub(crate) fn new(total: usize) -> Self {
        let now = Instant::now();
        Self {
            total,
            done: 0,
            started: now,
            last_line: now,
            tty: std::io::stderr().is_terminal(),
        }
    }

    pub(crate) fn advance(&mut self, n: usize) {
        self.done += n;
        let rate = self.done as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
        if self.tty {
            let width = 30;
            let filled = (self.done * width).checked_div(self.total).unwrap_or(width);
            eprint!(
                "\r[{}{}] {}/{} licenses  {rate:.0}/s ",
                "#".repeat(filled),
                " ".repeat(width - filled.min(width)),
                self.done,
                self.total
            );
        } else if self.last_line.elapsed() >= Duration::from_secs(2) || self.done == self.total {
            eprintln!("{}/{} licenses ({rate:.0}/s)", self.done, self.total);
            self.last_line = Instant::now();
        }
    }

    /// How many are done so far.
    pub(crate) fn done(&self) -> usize {
        self.done
    }

    pub(crate) fn finish(&mut self) -> Duration {
        if self.tty {
            eprintln!();
        }
        self.started.elapsed()
    }
}
