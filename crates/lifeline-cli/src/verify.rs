use std::io::Write;
use std::process::ExitCode;

use lifeline_core::{Override, Policy, UnixTime};

use crate::failure::CliError;
use crate::files;

/// Verify a license and print the verdict as one JSON object.
///
/// Exit 0 when the license is usable (valid, grace, or override), 1 when it is not (the
/// verdict's reason says why), 2 on usage or I/O errors.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Public key set (JWKS), e.g. the keys.json written by `lifeline keygen`.
    #[arg(long, value_name = "KEYS.json")]
    keys: String,
    /// Require the license to be for this product (its `aud`).
    #[arg(long, value_name = "PRODUCT")]
    aud: Option<String>,
    /// Verify as of this time (unix seconds) instead of now.
    #[arg(long, value_name = "UNIX_SECONDS")]
    at: Option<u64>,
    /// Pretty-print the verdict.
    #[arg(long)]
    pretty: bool,
    /// A temporary override token file (from `lifeline override mint` or the server), checked
    /// against the same key set; repeat for several. Refused overrides are reported on
    /// standard error and change nothing.
    #[arg(long = "override", value_name = "FILE")]
    overrides: Vec<String>,
    /// The issued list of a compromised key (`/.well-known/lifeline/issued/KID` on the
    /// server), verified against the key set: that key's licenses on it verify, any other
    /// token of the key is refused `key_compromised`. Repeat for several keys.
    #[arg(long = "issued-list", value_name = "FILE")]
    issued_lists: Vec<String>,
    /// License token file; `-` or nothing reads standard input.
    #[arg(value_name = "FILE|-", default_value = "-")]
    file: String,
}

/// At most this much of the input is read; the core refuses anything over
/// `MAX_TOKEN_BYTES` (after trimming whitespace) as `malformed`.
const READ_LIMIT: usize = 1024 * 1024;

pub(crate) fn run(args: &Args) -> Result<ExitCode, CliError> {
    let keys = files::read_key_set_with_lists(&args.keys, &args.issued_lists)?;
    if args.file == "-" && std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        eprintln!("reading the license from standard input (end with Ctrl-D)");
    }
    let token = files::read_up_to(&args.file, READ_LIMIT, "license")?;
    let now = match args.at {
        Some(at) => at,
        None => crate::issue::now_secs()?,
    };
    let mut policy = Policy::new();
    if let Some(aud) = &args.aud {
        policy = policy.with_audience(aud.clone());
    }
    let now = UnixTime::from_secs(now);
    let mut accepted = Vec::new();
    for file in &args.overrides {
        let bytes = files::read_up_to(file, READ_LIMIT, "override")?;
        match Override::verify(&bytes, &keys, now, policy.leeway_secs()) {
            Ok(o) => accepted.push(o),
            Err(e) => eprintln!("override {file} refused ({}): {e}", e.reason()),
        }
    }
    let verdict = lifeline_core::verify(&token, &keys, &policy, now).with_overrides(&accepted, now);
    let json = if args.pretty {
        serde_json::to_string_pretty(&verdict)
    } else {
        serde_json::to_string(&verdict)
    }
    .map_err(|e| CliError::new(format!("cannot encode the verdict: {e}")))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{json}").map_err(|e| CliError::new(format!("cannot write the verdict: {e}")))?;
    Ok(if verdict.is_usable() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
