//! `lifeline seat list|release`: an operator's view of a license's seats, and releasing one
//! on its machine's behalf.

use std::process::ExitCode;
use std::time::Duration;

use lifeline_api::{ForceReleaseSeat, LicenseSeats, Seat};

use crate::failure::CliError;
use crate::remote::{self, Remote};

/// Seats of licenses on a server (operator token).
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: SeatCommand,
}

#[derive(Debug, clap::Subcommand)]
enum SeatCommand {
    List(ListArgs),
    Release(ReleaseArgs),
}

/// List a license's seats: live ones first, one a line (or `--json`).
#[derive(Debug, clap::Args)]
struct ListArgs {
    /// The license id.
    license: String,
    /// Print the server's JSON answer instead of lines.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    remote: Remote,
}

/// Release a seat on its machine's behalf (audited with the reason; no linger).
#[derive(Debug, clap::Args)]
struct ReleaseArgs {
    /// The seat id.
    seat: String,
    /// Why (kept with the seat and in the audit log).
    #[arg(long)]
    reason: String,
    #[command(flatten)]
    remote: Remote,
}

pub(crate) fn run(args: &Args) -> Result<ExitCode, CliError> {
    let agent = remote::agent(Duration::from_secs(30));
    match &args.command {
        SeatCommand::List(a) => {
            let url = a
                .remote
                .url(&format!("/api/v1/licenses/{}/seats", a.license));
            let response = agent
                .get(&url)
                .header("Authorization", &a.remote.bearer())
                .call()
                .map_err(|e| CliError::new(format!("cannot reach {}: {e}", a.remote.server)))?;
            let seats: LicenseSeats = answer(response, &url)?;
            if a.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&seats).unwrap_or_default()
                );
                return Ok(ExitCode::SUCCESS);
            }
            match (seats.mode, seats.seats, seats.max) {
                (Some(mode), Some(sold), Some(max)) => println!(
                    "license {}: {} of {sold} seats in use ({} mode, at most {max} with overage)",
                    seats.license_id,
                    seats.in_use,
                    mode.as_str()
                ),
                _ => println!("license {}: no seats", seats.license_id),
            }
            for seat in &seats.items {
                println!("{}", line(seat));
            }
            Ok(ExitCode::SUCCESS)
        }
        SeatCommand::Release(a) => {
            let url = a.remote.url(&format!("/api/v1/seats/{}/revoke", a.seat));
            let body = ForceReleaseSeat {
                reason: a.reason.clone(),
            };
            let response = agent
                .post(&url)
                .header("Authorization", &a.remote.bearer())
                .send_json(&body)
                .map_err(|e| CliError::new(format!("cannot reach {}: {e}", a.remote.server)))?;
            let seat: Seat = answer(response, &url)?;
            println!("released {} ({})", seat.id, seat.name);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The body of a 2xx answer as `T`, else the server's problem as the error.
fn answer<T: serde::de::DeserializeOwned>(
    mut response: ureq::http::Response<ureq::Body>,
    url: &str,
) -> Result<T, CliError> {
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .read_to_string()
        .map_err(|e| CliError::new(format!("reading {url}: {e}")))?;
    if !(200..300).contains(&status) {
        return Err(CliError::new(format!("{url}: HTTP {status}: {body}")));
    }
    serde_json::from_str(&body).map_err(|e| CliError::new(format!("{url}: unexpected answer: {e}")))
}

/// One seat, one line: id, status, name, node, last heartbeat, how it ended.
fn line(seat: &Seat) -> String {
    let status = serde_json::to_value(seat.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let ended = match (&seat.end_cause, &seat.end_reason) {
        (Some(cause), Some(reason)) => format!(" ended {cause:?} ({reason})"),
        (Some(cause), None) => format!(" ended {cause:?}"),
        _ => String::new(),
    };
    format!(
        "{}  {status:<9} {:<24} node {}  last heartbeat {}  fingerprint {}{ended}",
        seat.id, seat.name, seat.node, seat.last_heartbeat, seat.fingerprint_hash
    )
}
