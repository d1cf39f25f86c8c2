use std::process::ExitCode;

use crate::failure::CliError;
use crate::files;

/// Decode a license WITHOUT verifying it: header and claims, for debugging.
///
/// Prints JSON with "verified": false. Never use its output to grant access; use `verify`.
/// Exit 1 when the token cannot be decoded.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// License token file; `-` reads standard input.
    #[arg(value_name = "FILE|-")]
    file: String,
}

pub(crate) fn run(args: &Args) -> Result<ExitCode, CliError> {
    let token = files::read_up_to(&args.file, 1024 * 1024, "license")?;
    match lifeline_core::inspect(&token) {
        Ok(inspection) => {
            let json = serde_json::to_string_pretty(&inspection)
                .map_err(|e| CliError::new(format!("cannot encode the inspection: {e}")))?;
            eprintln!("warning: UNVERIFIED: decoded only, no signature or time was checked");
            println!("{json}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("cannot decode {}: {e} [{}]", args.file, e.reason());
            Ok(ExitCode::from(1))
        }
    }
}
