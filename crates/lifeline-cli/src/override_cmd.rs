//! `lifeline override mint`: a temporary override signed with a key file, no server needed
//! (the emergency path when the server itself is down).

use std::process::ExitCode;

use lifeline_core::LicenseSigner;
use serde_json::{Value, json};

use crate::failure::CliError;
use crate::files;

/// Overrides longer than this need `--approved-by` (a second person's name, kept in the
/// token), the same rule the server applies with a second admin's approval.
pub(crate) const MAX_UNAPPROVED_HOURS: u64 = 72;

/// Temporary overrides: keep authentic licenses usable during an incident.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    Mint(MintArgs),
}

/// Sign an override with a key file and print the token (no server involved).
///
/// Verifiers accept it with `lifeline verify --override FILE`, the npm package's
/// `setOverrides`, or from the server's override bundle. It changes only what its scope
/// covers, only until its expiry, and never makes a forged or revoked license usable.
#[derive(Debug, clap::Args)]
struct MintArgs {
    /// The signing key: an emergency override key (`lifeline keygen --for-overrides`) or a
    /// license signing key.
    #[arg(long, value_name = "FILE.jwk")]
    key: String,
    /// What it covers: `all`, `license:ID`, `licensee:NAME` or `product:ID`.
    #[arg(long, value_name = "SCOPE")]
    scope: String,
    /// What it does: `valid` (usable though expired or signed outside its key's window),
    /// `entitlements:A,B` (extra entitlements) or `extend-grace:SECONDS`.
    #[arg(long, value_name = "EFFECT", default_value = "valid")]
    effect: String,
    /// How long it lasts, in hours (over 72 needs --approved-by).
    #[arg(long, value_name = "HOURS", default_value_t = 24)]
    hours: u64,
    /// Why (required; kept in the token and shown in every verdict it changes).
    #[arg(long)]
    reason: String,
    /// The incident reference, e.g. INC-1234 (required).
    #[arg(long)]
    incident: String,
    /// Who mints it (the token's `iss`).
    #[arg(long, default_value = "lifeline-cli")]
    issuer: String,
    /// A second person who approved an override longer than 72 hours.
    #[arg(long, value_name = "NAME")]
    approved_by: Option<String>,
}

pub(crate) fn run(args: &Args) -> Result<ExitCode, CliError> {
    match &args.command {
        Command::Mint(m) => mint(m),
    }
}

fn mint(args: &MintArgs) -> Result<ExitCode, CliError> {
    if args.hours == 0 {
        return Err(CliError::new("--hours must be at least 1"));
    }
    if args.hours > MAX_UNAPPROVED_HOURS && args.approved_by.as_deref().is_none_or(str::is_empty) {
        return Err(CliError::new(format!(
            "an override longer than {MAX_UNAPPROVED_HOURS} hours needs a second person's approval"
        ))
        .hint("pass --approved-by NAME, or mint a shorter one and renew it"));
    }
    if args.reason.trim().is_empty() || args.incident.trim().is_empty() {
        return Err(CliError::new("--reason and --incident must not be empty"));
    }
    let scope = parse_scope(&args.scope)?;
    let effect = parse_effect(&args.effect)?;
    files::warn_if_exposed(&args.key);
    let key_bytes = files::read_capped(&args.key, 64 * 1024, "private key")?;
    let signer = LicenseSigner::from_private_jwk_json(&key_bytes).map_err(|e| {
        CliError::new(format!("{}: {e}", args.key))
            .hint("pass a DIR/ID.jwk file written by `lifeline keygen`")
    })?;
    let now = crate::issue::now_secs()?;
    let mut claims = json!({
        "iss": args.issuer, "jti": format!("ovr-{}", crate::issue::random_id()?),
        "iat": now, "nbf": now, "exp": now.saturating_add(args.hours.saturating_mul(3600)),
        "scope": scope, "effect": effect,
        "reason": args.reason.trim(), "incident": args.incident.trim(),
    });
    if let (Some(who), Value::Object(map)) = (&args.approved_by, &mut claims) {
        map.insert("approved_by".into(), who.clone().into());
    }
    let Value::Object(claims) = claims else {
        return Err(CliError::new("internal: override claims are not an object"));
    };
    let token = signer
        .sign_override(&claims)
        .map_err(|e| CliError::new(format!("cannot sign the override: {e}")))?;
    println!("{token}");
    eprintln!(
        "override for {} ({}) valid {} h, signed by key {:?}",
        args.scope,
        args.effect,
        args.hours,
        signer.kid()
    );
    Ok(ExitCode::SUCCESS)
}

fn parse_scope(text: &str) -> Result<Value, CliError> {
    let bad = || {
        CliError::new(format!("--scope {text:?} is not a scope"))
            .hint("use all, license:ID, licensee:NAME or product:ID")
    };
    if text == "all" {
        return Ok(json!({ "type": "all" }));
    }
    let (kind, value) = text.split_once(':').ok_or_else(bad)?;
    if value.is_empty() || !matches!(kind, "license" | "licensee" | "product") {
        return Err(bad());
    }
    Ok(json!({ "type": kind, "value": value }))
}

fn parse_effect(text: &str) -> Result<Value, CliError> {
    let bad = || {
        CliError::new(format!("--effect {text:?} is not an effect"))
            .hint("use valid, entitlements:A,B or extend-grace:SECONDS")
    };
    if text == "valid" {
        return Ok(json!({ "type": "valid" }));
    }
    match text.split_once(':') {
        Some(("entitlements", list)) => {
            let add: Vec<&str> = list
                .split(',')
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .collect();
            if add.is_empty() {
                return Err(bad());
            }
            Ok(json!({ "type": "entitlements", "add": add }))
        }
        Some(("extend-grace", secs)) => match secs.parse::<u64>() {
            Ok(s) if s > 0 => Ok(json!({ "type": "extend_grace", "secs": s })),
            _ => Err(bad()),
        },
        _ => Err(bad()),
    }
}
