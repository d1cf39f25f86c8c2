use std::process::ExitCode;
use std::time::Duration;

use lifeline_api::AuditPage;

use crate::failure::CliError;
use crate::remote::{self, Remote};

/// Work with the server's audit log.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Debug, clap::Subcommand)]
enum AuditCommand {
    Verify(VerifyArgs),
}

/// Download the whole audit log and check its hash chain here, independently of the server.
///
/// Exit 0 when every event links to the one before and hashes to its recorded hash, 1 when
/// the chain is broken (the first broken event is named), 2 on usage or network errors.
#[derive(Debug, clap::Args)]
struct VerifyArgs {
    #[command(flatten)]
    remote: Remote,
}

pub(crate) fn run(args: &Args) -> Result<ExitCode, CliError> {
    let AuditCommand::Verify(args) = &args.command;
    let agent = remote::agent(Duration::from_secs(60));
    let base = args.remote.url("");
    let (mut seq, mut hash) = (0u64, lifeline_server::GENESIS.to_owned());
    loop {
        let url = format!("{base}/api/v1/audit?after={seq}&limit=1000");
        let mut response = agent
            .get(&url)
            .header("Authorization", &args.remote.bearer())
            .call()
            .map_err(|e| CliError::new(format!("cannot reach {base}: {e}")))?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_string()
            .map_err(|e| CliError::new(format!("reading {url}: {e}")))?;
        if status != 200 {
            return Err(CliError::new(format!("{url}: HTTP {status}: {body}")));
        }
        let page: AuditPage = serde_json::from_str(&body)
            .map_err(|e| CliError::new(format!("{url}: unexpected answer: {e}")))?;
        if page.items.is_empty() {
            break;
        }
        match lifeline_server::verify_run(seq, &hash, &page.items) {
            Ok((s, h)) => (seq, hash) = (s, h),
            Err(broken) => {
                println!(
                    "{}",
                    serde_json::json!({ "intact": false, "verified_events": seq, "problem": broken.to_string() })
                );
                return Ok(ExitCode::from(1));
            }
        }
        if page.next_after.is_none() {
            break;
        }
    }
    println!(
        "{}",
        serde_json::json!({ "intact": true, "events": seq, "head": hash })
    );
    Ok(ExitCode::SUCCESS)
}
