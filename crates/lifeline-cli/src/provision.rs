use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use lifeline_api::{BulkIssue, BulkIssued, IssueLicense, Problem};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::failure::CliError;
use crate::progress::Progress;
use crate::remote::{self, Remote};

/// Issue licenses in bulk from a CSV or JSON Lines file, through the server's bulk API.
///
/// CSV columns (header row required): product, licensee, expires_at, and optionally
/// entitlements (separated by ';'), grace_s, seats. JSON Lines: one license request per line
/// ({"product", "licensee", "expires_at", "entitlements", "grace_s", "seats", "metadata"}).
///
/// Safe to re-run after an interruption, even after fixing a bad row: each batch carries an
/// idempotency key derived from its own contents, so batches the server already committed
/// are not issued twice.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    remote: Remote,
    /// Licenses to issue: .csv or .jsonl.
    #[arg(long, value_name = "FILE")]
    file: PathBuf,
    /// Licenses per request (1 to 10000).
    #[arg(long, default_value_t = 2000, value_name = "N")]
    batch: usize,
    /// Write every issued license (id, licensee, product, token) to this JSON Lines file, in
    /// the order batches complete.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Batches in flight at once (the server signs one while it stores another).
    #[arg(long, default_value_t = 2, value_name = "N")]
    parallel: usize,
}

pub(crate) fn run(args: &Args) -> Result<ExitCode, CliError> {
    if !(1..=lifeline_server::MAX_BULK).contains(&args.batch) {
        return Err(CliError::new(format!(
            "--batch must be 1 to {}",
            lifeline_server::MAX_BULK
        )));
    }
    let bytes = std::fs::read(&args.file)
        .map_err(|e| CliError::new(format!("cannot read {}: {e}", args.file.display())))?;
    let requests = parse(&args.file, &bytes)?;
    if requests.is_empty() {
        return Err(CliError::new(format!(
            "{} has no licenses",
            args.file.display()
        )));
    }
    let mut out = match &args.out {
        Some(path) => Some(std::io::BufWriter::new(
            std::fs::File::create(path)
                .map_err(|e| CliError::new(format!("cannot create {}: {e}", path.display())))?,
        )),
        None => None,
    };
    let agent = remote::agent(Duration::from_secs(300));
    let url = args.remote.url("/api/v1/licenses/bulk");
    let total = requests.len();
    let batches: Vec<&[IssueLicense]> = requests.chunks(args.batch).collect();
    let shared = Mutex::new(Shared {
        progress: Progress::new(total),
        out: out.take(),
        issued: 0,
        already: 0,
        error: None,
    });
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..args.parallel.clamp(1, 8) {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(chunk) = batches.get(index) else {
                        return;
                    };
                    if lock(&shared).error.is_some() {
                        return;
                    }
                    let outcome = send_batch(
                        &agent,
                        &url,
                        &args.remote.bearer(),
                        index,
                        args.batch,
                        chunk,
                    );
                    let mut state = lock(&shared);
                    if let Err(e) =
                        outcome.and_then(|(status, body)| state.record(status, &body, chunk.len()))
                    {
                        state.error.get_or_insert(e);
                        return;
                    }
                }
            });
        }
    });
    let mut shared = shared
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let elapsed = shared.progress.finish();
    let (issued, already) = (shared.issued, shared.already);
    if let Some(e) = shared.error.take() {
        return Err(e.hint(format!(
            "fix the cause and run the same command again: the {} licenses issued so far are kept, none will be issued twice",
            issued + already
        )));
    }
    let mut out = shared.out.take();
    if let Some(out) = &mut out {
        out.flush()
            .map_err(|e| CliError::new(format!("cannot write --out: {e}")))?;
    }
    let rate = total as f64 / elapsed.as_secs_f64().max(1e-9);
    eprintln!(
        "provisioned {total} licenses in {:.2} s ({rate:.0}/s): {issued} issued now, {already} already issued by an earlier run",
        elapsed.as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// What the workers share: progress, the output file, counters and the first error.
struct Shared {
    progress: Progress,
    out: Option<std::io::BufWriter<std::fs::File>>,
    issued: usize,
    already: usize,
    error: Option<CliError>,
}

impl Shared {
    fn record(&mut self, status: u16, body: &str, n: usize) -> Result<(), CliError> {
        if status == 201 {
            self.issued += n;
        } else {
            self.already += n;
        }
        if let Some(out) = &mut self.out {
            let batch: BulkIssued = serde_json::from_str(body)
                .map_err(|e| CliError::new(format!("unexpected response: {e}")))?;
            for l in batch.licenses {
                let line = serde_json::json!({"id": l.id, "product": l.product, "licensee": l.licensee, "token": l.token});
                writeln!(out, "{line}")
                    .map_err(|e| CliError::new(format!("cannot write --out: {e}")))?;
            }
            // Acknowledged batches reach the file before the next one is counted.
            out.flush()
                .map_err(|e| CliError::new(format!("cannot write --out: {e}")))?;
        }
        self.progress.advance(n);
        Ok(())
    }
}

fn lock(shared: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Sends one batch; `Ok` only for 201 (issued) and 200 (issued by an earlier run).
fn send_batch(
    agent: &ureq::Agent,
    url: &str,
    bearer: &str,
    index: usize,
    size: usize,
    chunk: &[IssueLicense],
) -> Result<(u16, String), CliError> {
    let digest = Sha256::digest(serde_json::to_vec(chunk).unwrap_or_default());
    let key = format!(
        "provision-{}",
        hex::encode(digest).get(..32).unwrap_or_default()
    );
    let (status, body) = send_with_retries(agent, url, bearer, &key, chunk)?;
    if status == 200 || status == 201 {
        return Ok((status, body));
    }
    let problem: Option<Problem> = serde_json::from_str(&body).ok();
    let detail = problem.map_or(body.clone(), |p| format!("{} [{}]", p.detail, p.code));
    Err(CliError::new(format!(
        "batch {index} (licenses {}..{}) refused with HTTP {status}: {detail}",
        index * size + 1,
        index * size + chunk.len()
    )))
}

fn send_with_retries(
    agent: &ureq::Agent,
    url: &str,
    bearer: &str,
    key: &str,
    chunk: &[IssueLicense],
) -> Result<(u16, String), CliError> {
    let body = BulkIssue {
        licenses: chunk.to_vec(),
    };
    let mut delay = Duration::from_millis(200);
    for attempt in 1..=6 {
        let sent = agent
            .post(url)
            .header("Authorization", bearer)
            .header("Idempotency-Key", key)
            .send_json(&body);
        match sent {
            Ok(mut response) => {
                let status = response.status().as_u16();
                let text = response
                    .body_mut()
                    .with_config()
                    .limit(256 * 1024 * 1024)
                    .read_to_string()
                    .unwrap_or_default();
                if status == 503 && attempt < 6 {
                    std::thread::sleep(delay);
                    delay *= 2;
                    continue;
                }
                return Ok((status, text));
            }
            Err(e) if attempt < 6 => {
                eprintln!("\nretrying batch ({e})");
                std::thread::sleep(delay);
                delay *= 2;
            }
            Err(e) => {
                return Err(CliError::new(format!("cannot reach {url}: {e}"))
                    .hint("check --server; when it is back, run the same command again: nothing is issued twice"));
            }
        }
    }
    Err(CliError::new(format!("{url} kept failing")))
}

fn parse(path: &std::path::Path, bytes: &[u8]) -> Result<Vec<IssueLicense>, CliError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| CliError::new(format!("{} is not UTF-8 text", path.display())))?;
    let at = |line: usize, e: &dyn std::fmt::Display| {
        CliError::new(format!("{}:{line}: {e}", path.display()))
    };
    match path.extension().and_then(|e| e.to_str()) {
        Some("jsonl") | Some("ndjson") => text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| serde_json::from_str::<IssueLicense>(l).map_err(|e| at(i + 1, &e)))
            .collect(),
        Some("csv") => parse_csv(text).map_err(|(line, e)| at(line, &e)),
        _ => Err(CliError::new(format!(
            "{}: use a .csv or .jsonl file",
            path.display()
        ))),
    }
}

fn parse_csv(text: &str) -> Result<Vec<IssueLicense>, (usize, String)> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines.next().ok_or((1, "empty file".to_owned()))?;
    let columns: Vec<&str> = header.split(',').map(str::trim).collect();
    let find = |name: &str| columns.iter().position(|c| *c == name);
    let (Some(product), Some(licensee), Some(expires)) =
        (find("product"), find("licensee"), find("expires_at"))
    else {
        return Err((
            1,
            "the header must name product, licensee and expires_at".to_owned(),
        ));
    };
    let (entitlements, grace, seats) = (find("entitlements"), find("grace_s"), find("seats"));
    let offline = find("offline_grace_s");
    lines
        .map(|(i, line)| {
            let n = i + 1;
            let cells: Vec<&str> = line.split(',').map(str::trim).collect();
            if cells.len() != columns.len() {
                return Err((
                    n,
                    format!("expected {} fields, found {}", columns.len(), cells.len()),
                ));
            }
            let cell = |c: usize| cells.get(c).copied().unwrap_or_default();
            let number = |c: Option<usize>, what: &str| -> Result<Option<u64>, (usize, String)> {
                match c.map(cell).filter(|v| !v.is_empty()) {
                    Some(v) => v
                        .parse()
                        .map(Some)
                        .map_err(|_| (n, format!("{what} must be a whole number, not {v:?}"))),
                    None => Ok(None),
                }
            };
            Ok(IssueLicense {
                product: cell(product).to_owned(),
                licensee: cell(licensee).to_owned(),
                entitlements: entitlements
                    .map(cell)
                    .map(|e| {
                        e.split(';')
                            .map(str::trim)
                            .filter(|s| !s.is_empty())
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default(),
                expires_at: number(Some(expires), "expires_at")?.unwrap_or(0),
                grace_s: number(grace, "grace_s")?.unwrap_or(0),
                seats: number(seats, "seats")?
                    .map(|s| u32::try_from(s).map_err(|_| (n, "seats is too large".to_owned())))
                    .transpose()?,
                seat_mode: None,
                heartbeat_s: None,
                overage: None,
                linger_s: None,
                borrow_max_s: None,
                offline_grace_s: number(offline, "offline_grace_s")?,
                metadata: Map::<String, Value>::new(),
            })
        })
        .collect()
}
