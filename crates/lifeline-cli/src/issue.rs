use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use lifeline_core::{LicenseSigner, MAX_TOKEN_BYTES};
use serde_json::{Map, Value};

use crate::failure::CliError;
use crate::files;

/// Sign a license and print the token.
///
/// The claims file is a JSON object with at least iss, sub, aud, exp and entitlements.
/// iat and nbf default to now, jti to a random id.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Private key written by `lifeline keygen` (DIR/ID.jwk).
    #[arg(long, value_name = "FILE.jwk")]
    key: String,
    /// Claims as a JSON object; `-` reads standard input.
    #[arg(long, value_name = "FILE.json")]
    claims: String,
}

pub(crate) fn run(args: &Args) -> Result<ExitCode, CliError> {
    files::warn_if_exposed(&args.key);
    let key_bytes = files::read_capped(&args.key, 64 * 1024, "private key")?;
    let signer = LicenseSigner::from_private_jwk_json(&key_bytes).map_err(|e| {
        CliError::new(format!("{}: {e}", args.key))
            .hint("pass the DIR/ID.jwk file written by `lifeline keygen`")
    })?;
    let claims_bytes = files::read_capped(&args.claims, MAX_TOKEN_BYTES, "claims file")?;
    let mut claims = lifeline_core::parse_json_object(&claims_bytes).map_err(|e| {
        CliError::new(format!(
            "claims file {} is not a strict JSON object: {e}",
            args.claims
        ))
    })?;
    fill_defaults(&mut claims, now_secs()?)?;
    let token = signer.sign_license(&claims).map_err(|e| {
        CliError::new(format!("{}: {e}", args.claims))
            .hint("required: iss, sub, aud, exp, entitlements (iat, nbf and jti are filled in)")
    })?;
    println!("{token}");
    Ok(ExitCode::SUCCESS)
}

fn fill_defaults(claims: &mut Map<String, Value>, now: u64) -> Result<(), CliError> {
    claims.entry("iat").or_insert_with(|| now.into());
    let iat = claims.get("iat").cloned().unwrap_or_else(|| now.into());
    claims.entry("nbf").or_insert(iat);
    if !claims.contains_key("jti") {
        claims.insert("jti".into(), random_id()?.into());
    }
    Ok(())
}

/// A new license id: a UUID version 7, the same kind the server issues.
pub(crate) fn random_id() -> Result<String, CliError> {
    lifeline_server::new_license_id()
        .map_err(|e| CliError::new(format!("cannot make a license id: {e}")))
}

pub(crate) fn now_secs() -> Result<u64, CliError> {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| CliError::new("the system clock is set before 1970"))
}
