//! `lifeline keys list|compromise`: a license server's signing keys, and the one command for
//! the day one of them leaks.

use std::io::{BufRead, BufReader};
use std::process::ExitCode;
use std::time::Duration;

use lifeline_api::{CompromiseLine, CompromiseReport, SigningKeyInfo};

use crate::failure::CliError;
use crate::progress::Progress;
use crate::remote::{self, Remote};

/// A license server's signing keys.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: KeysCommand,
}

#[derive(Debug, clap::Subcommand)]
enum KeysCommand {
    List(ListArgs),
    Compromise(CompromiseArgs),
}

/// List the signing keys (JSON): state (active, retired, compromised), windows, rotation
/// date, for a compromised key when and why and how many tokens its issued list names.
/// Viewer token.
#[derive(Debug, clap::Args)]
struct ListArgs {
    #[command(flatten)]
    remote: Remote,
}

/// The signing key leaked: recover in one command (admin token).
///
/// Rotates to a fresh key if KID is the active one, re-signs every license KID signed with
/// the active key (progress on stderr), publishes KID's issued list (the exact set of tokens
/// the vendor issued with it, signed by the active key) and marks KID compromised, audits,
/// fires the webhook `key.compromised` and opens the incident `key_compromised`. Online
/// clients get their re-signed license at their next check; verifiers that fetch the key
/// set and the list accept the vendor's old tokens and refuse every forged one; offline
/// clients keep their lease and offline grace. Prints the report (JSON) on stdout. A run
/// that stops partway leaves KID unmarked: run it again, it carries on.
#[derive(Debug, clap::Args)]
struct CompromiseArgs {
    /// The leaked key's id (`lifeline keys list`).
    kid: String,
    /// What happened (1 to 1024 characters; audited, in the incident).
    #[arg(long)]
    reason: String,
    /// Your incident reference, e.g. INC-2041 (1 to 128 characters).
    #[arg(long)]
    incident: String,
    #[command(flatten)]
    remote: Remote,
}

pub(crate) fn run(args: &Args) -> Result<ExitCode, CliError> {
    match &args.command {
        KeysCommand::List(a) => list(a),
        KeysCommand::Compromise(a) => compromise(a),
    }
}

fn list(args: &ListArgs) -> Result<ExitCode, CliError> {
    let keys: Vec<SigningKeyInfo> = remote::get(&args.remote, "/api/v1/keys", hint)?;
    let pretty = serde_json::to_string_pretty(&keys)
        .map_err(|e| CliError::new(format!("cannot encode the keys: {e}")))?;
    println!("{pretty}");
    Ok(ExitCode::SUCCESS)
}

fn compromise(args: &CompromiseArgs) -> Result<ExitCode, CliError> {
    if args.kid.is_empty()
        || !args
            .kid
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(CliError::new(format!("{:?} is not a key id", args.kid))
            .hint("`lifeline keys list` shows the key ids"));
    }
    let url = args
        .remote
        .url(&format!("/api/v1/keys/{}/compromise", args.kid));
    let body = serde_json::json!({ "reason": args.reason, "incident": args.incident });
    // Re-signing a large fleet takes a while; the server streams progress meanwhile.
    let response = remote::agent(Duration::from_secs(3600))
        .post(&url)
        .header("Authorization", &args.remote.bearer())
        .send_json(&body)
        .map_err(|e| CliError::new(format!("cannot reach {url}: {e}")).hint("check --server"))?;
    let status = response.status().as_u16();
    let mut reader = BufReader::new(response.into_body().into_reader());
    if status != 200 {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut reader, &mut text);
        return Err(remote::refused(&url, status, &text, hint));
    }
    eprintln!(
        "lifeline keys compromise: {} (incident {})",
        args.kid, args.incident
    );
    let mut progress: Option<Progress> = None;
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader.read_line(&mut line).map_err(|e| {
            CliError::new(format!("the answer of {url} broke off: {e}"))
                .hint("the server carries on; `lifeline keys list` shows whether the key is marked, and running the command again finishes a stopped recovery")
        })?;
        if n == 0 {
            return Err(CliError::new(format!("{url} ended its answer without a result"))
                .hint("`lifeline keys list` shows whether the key is marked; run the command again to finish"));
        }
        let parsed: CompromiseLine = serde_json::from_str(line.trim())
            .map_err(|e| CliError::new(format!("{url}: unexpected line {line:?}: {e}")))?;
        match parsed {
            CompromiseLine::Progress { done, total } => {
                let bar = progress.get_or_insert_with(|| {
                    eprintln!("re-signing {total} licenses with the active key");
                    Progress::new(usize::try_from(total).unwrap_or(usize::MAX))
                });
                bar.advance(
                    usize::try_from(done)
                        .unwrap_or(0)
                        .saturating_sub(bar.done()),
                );
            }
            CompromiseLine::Done(report) => {
                if let Some(bar) = &mut progress {
                    bar.finish();
                }
                summary(&report);
                let text = serde_json::to_string_pretty(&report)
                    .map_err(|e| CliError::new(format!("cannot encode the report: {e}")))?;
                println!("{text}");
                return Ok(ExitCode::SUCCESS);
            }
            CompromiseLine::Failed { code, detail } => {
                return Err(CliError::new(format!("the recovery stopped ({code}): {detail}"))
                    .hint("the key is not marked yet; fix the cause and run the command again: it carries on with the licenses not re-signed yet"));
            }
        }
    }
}

/// What happened, for people (stderr).
fn summary(r: &CompromiseReport) {
    eprintln!(
        "key {} marked compromised at {}{}",
        r.kid,
        r.compromised_at,
        if r.rotated {
            format!("; {} is the new active key", r.active_kid)
        } else {
            String::new()
        }
    );
    eprintln!(
        "{} licenses re-signed in {:.1} s; clients get theirs at their next check",
        r.re_signed, r.re_sign_seconds
    );
    eprintln!(
        "issued list: {} tokens, {} bytes, at {}",
        r.listed_tokens, r.list_bytes, r.issued_list_url
    );
    if let Some(id) = &r.incident_id {
        eprintln!("incident {id} opened (key_compromised)");
    }
}

/// What to do about the keys' usual refusals.
fn hint(code: &str) -> Option<&'static str> {
    match code {
        "forbidden" => Some("marking a key compromised takes an admin token"),
        "not_found" => Some("`lifeline keys list` shows the key ids"),
        "already_compromised" => {
            Some("nothing to do: `lifeline keys list` shows when it was marked")
        }
        _ => None,
    }
}
