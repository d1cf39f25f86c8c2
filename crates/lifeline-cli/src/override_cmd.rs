//! `lifeline override`: temporary overrides. `mint` signs one with a key file, no server
//! needed (the emergency path when the server itself is down); `create`, `list`, `approve`
//! and `revoke` work through a license server (`--server`, `--token`).

use std::process::ExitCode;

use lifeline_api::{CreateOverride, OverrideRecord, RevokeOverride};
use lifeline_core::LicenseSigner;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::failure::CliError;
use crate::files;
use crate::remote::{self, Remote};

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
    Create(CreateArgs),
    List(ListArgs),
    Approve(ApproveArgs),
    Revoke(RevokeArgs),
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
    #[command(flatten)]
    spec: OverrideSpec,
    /// Who mints it (the token's `iss`).
    #[arg(long, default_value = "lifeline-cli")]
    issuer: String,
    /// A second person who approved an override longer than 72 hours.
    #[arg(long, value_name = "NAME")]
    approved_by: Option<String>,
}

/// Create an override on a license server and print its record (JSON).
///
/// One that lasts at most 72 hours is signed at once (status `active`; the token is in the
/// record, `--token-only` prints just the token). A longer one (at most 720 hours) waits for
/// a second admin: `lifeline override approve ID` with another API token. Needs the operator
/// role.
#[derive(Debug, clap::Args)]
struct CreateArgs {
    #[command(flatten)]
    remote: Remote,
    #[command(flatten)]
    spec: OverrideSpec,
    /// Print only the signed token (for `lifeline verify --override`); fails when the
    /// override waits for approval.
    #[arg(long)]
    token_only: bool,
}

/// What an override covers and does, for how long and why (`mint` and `create` alike).
#[derive(Debug, clap::Args)]
struct OverrideSpec {
    /// What it covers: `all`, `license:ID`, `licensee:NAME` or `product:ID`.
    #[arg(long, value_name = "SCOPE")]
    scope: String,
    /// What it does: `valid` (usable though expired or signed outside its key's window),
    /// `entitlements:A,B` (extra entitlements) or `extend-grace:SECONDS`.
    #[arg(long, value_name = "EFFECT", default_value = "valid")]
    effect: String,
    /// How long it lasts, in hours. Over 72 needs a second person: `mint --approved-by`, or
    /// a second admin's approval after `create` (at most 720).
    #[arg(long, value_name = "HOURS", default_value_t = 24)]
    hours: u64,
    /// Why (required; kept in the token and the audit log, shown in every verdict it
    /// changes).
    #[arg(long)]
    reason: String,
    /// The incident reference, e.g. INC-1234 (required).
    #[arg(long)]
    incident: String,
}

impl OverrideSpec {
    /// The checks both subcommands make; the scope and effect as JSON.
    fn parse(&self) -> Result<(Value, Value), CliError> {
        if self.hours == 0 {
            return Err(CliError::new("--hours must be at least 1"));
        }
        if self.reason.trim().is_empty() || self.incident.trim().is_empty() {
            return Err(CliError::new("--reason and --incident must not be empty"));
        }
        Ok((parse_scope(&self.scope)?, parse_effect(&self.effect)?))
    }

    fn expires_at(&self, now: u64) -> u64 {
        now.saturating_add(self.hours.saturating_mul(3600))
    }
}

/// List a server's overrides, newest first (a JSON array of records). Viewer role.
#[derive(Debug, clap::Args)]
struct ListArgs {
    #[command(flatten)]
    remote: Remote,
    /// Only those in this status.
    #[arg(long, value_parser = ["active", "pending_approval", "expired", "revoked"])]
    status: Option<String>,
    /// At most this many (1-500).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=500))]
    limit: u32,
}

/// Approve an override that waits for a second admin; prints its record, now with its
/// token. Admin role, and another API token than the one that created it.
#[derive(Debug, clap::Args)]
struct ApproveArgs {
    #[command(flatten)]
    remote: Remote,
    /// The override's id (`ovr-...`).
    id: String,
}

/// Revoke an override; prints its record. The server stops applying and publishing it at
/// once, but a token already handed out verifies offline until it expires. Operator role.
#[derive(Debug, clap::Args)]
struct RevokeArgs {
    #[command(flatten)]
    remote: Remote,
    /// The override's id (`ovr-...`).
    id: String,
    /// Why (required; kept in the audit log).
    #[arg(long)]
    reason: String,
}

pub(crate) fn run(args: &Args) -> Result<ExitCode, CliError> {
    match &args.command {
        Command::Mint(m) => mint(m),
        Command::Create(c) => create(c),
        Command::List(l) => list(l),
        Command::Approve(a) => approve(a),
        Command::Revoke(r) => revoke(r),
    }
}

fn create(args: &CreateArgs) -> Result<ExitCode, CliError> {
    let spec = &args.spec;
    let (scope, effect) = spec.parse()?;
    let scope = serde_json::from_value(scope)
        .map_err(|e| CliError::new(format!("--scope {:?}: {e}", spec.scope)))?;
    let effect = serde_json::from_value(effect)
        .map_err(|e| CliError::new(format!("--effect {:?}: {e}", spec.effect)))?;
    let req = CreateOverride {
        scope,
        effect,
        expires_at: spec.expires_at(crate::issue::now_secs()?),
        reason: spec.reason.trim().to_owned(),
        incident: spec.incident.trim().to_owned(),
    };
    let body = serde_json::to_value(&req)
        .map_err(|e| CliError::new(format!("cannot encode the request: {e}")))?;
    let record: OverrideRecord = send(&args.remote, "/api/v1/overrides", Some(&body))?;
    if args.token_only {
        let Some(token) = &record.token else {
            return Err(CliError::new(format!(
                "override {} was created but waits for a second admin's approval: no token yet",
                record.id
            ))
            .hint(format!(
                "another admin runs `lifeline override approve {}`",
                record.id
            )));
        };
        println!("{token}");
    } else {
        print_json(&record)?;
    }
    if record.token.is_none() {
        eprintln!(
            "override {} waits for approval: another admin runs `lifeline override approve {}`",
            record.id, record.id
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn list(args: &ListArgs) -> Result<ExitCode, CliError> {
    let mut path = format!("/api/v1/overrides?limit={}", args.limit);
    if let Some(status) = &args.status {
        path.push_str(&format!("&status={status}"));
    }
    let records: Vec<OverrideRecord> = get(&args.remote, &path)?;
    print_json(&records)?;
    Ok(ExitCode::SUCCESS)
}

fn approve(args: &ApproveArgs) -> Result<ExitCode, CliError> {
    let path = format!("/api/v1/overrides/{}/approve", path_segment(&args.id)?);
    let record: OverrideRecord = send(&args.remote, &path, None)?;
    print_json(&record)?;
    Ok(ExitCode::SUCCESS)
}

fn revoke(args: &RevokeArgs) -> Result<ExitCode, CliError> {
    if args.reason.trim().is_empty() {
        return Err(CliError::new("--reason must not be empty"));
    }
    let path = format!("/api/v1/overrides/{}/revoke", path_segment(&args.id)?);
    let body = serde_json::to_value(RevokeOverride {
        reason: args.reason.trim().to_owned(),
    })
    .map_err(|e| CliError::new(format!("cannot encode the request: {e}")))?;
    let record: OverrideRecord = send(&args.remote, &path, Some(&body))?;
    print_json(&record)?;
    Ok(ExitCode::SUCCESS)
}

/// An override id as one URL path segment: ids are `ovr-` and hex digits and dashes.
fn path_segment(id: &str) -> Result<&str, CliError> {
    if !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        Ok(id)
    } else {
        Err(CliError::new(format!("{id:?} is not an override id"))
            .hint("ids look like ovr-0195e2a0-...; `lifeline override list` shows them"))
    }
}

fn print_json(value: &impl serde::Serialize) -> Result<(), CliError> {
    let text = serde_json::to_string(value)
        .map_err(|e| CliError::new(format!("cannot encode the answer: {e}")))?;
    println!("{text}");
    Ok(())
}

/// `GET path` on the server: the answer as `T`, or an error naming the server's problem.
fn get<T: DeserializeOwned>(remote: &Remote, path: &str) -> Result<T, CliError> {
    remote::get(remote, path, hint)
}

/// `POST path` (with a JSON body, or none) on the server.
fn send<T: DeserializeOwned>(
    remote: &Remote,
    path: &str,
    body: Option<&Value>,
) -> Result<T, CliError> {
    remote::post(remote, path, body, hint)
}

/// What to do about the overrides' usual refusals.
fn hint(code: &str) -> Option<&'static str> {
    match code {
        "same_person" => Some(
            "another person approves it, with an admin token minted for them (POST /api/v1/tokens with their principal)",
        ),
        "expiry_too_far" => Some("an override lasts at most 720 hours"),
        _ => None,
    }
}

fn mint(args: &MintArgs) -> Result<ExitCode, CliError> {
    let spec = &args.spec;
    let (scope, effect) = spec.parse()?;
    let max_hours = lifeline_core::MAX_OVERRIDE_LIFETIME_SECS / 3600;
    if spec.hours > max_hours {
        return Err(CliError::new(format!(
            "--hours {}: an override lasts at most {max_hours} hours (30 days), whatever key signs it",
            spec.hours
        ))
        .hint("verifiers refuse longer ones; mint a shorter one and renew it while the incident lasts"));
    }
    if spec.hours > MAX_UNAPPROVED_HOURS && args.approved_by.as_deref().is_none_or(str::is_empty) {
        return Err(CliError::new(format!(
            "an override longer than {MAX_UNAPPROVED_HOURS} hours needs a second person's approval"
        ))
        .hint("pass --approved-by NAME, or mint a shorter one and renew it"));
    }
    files::warn_if_exposed(&args.key);
    let key_bytes = files::read_capped(&args.key, 64 * 1024, "private key")?;
    let signer = LicenseSigner::from_private_jwk_json(&key_bytes).map_err(|e| {
        CliError::new(format!("{}: {e}", args.key))
            .hint("pass a DIR/ID.jwk file written by `lifeline keygen`")
    })?;
    let now = crate::issue::now_secs()?;
    let mut claims = json!({
        "iss": args.issuer, "jti": format!("ovr-{}", crate::issue::random_id()?),
        "iat": now, "nbf": now, "exp": spec.expires_at(now),
        "scope": scope, "effect": effect,
        "reason": spec.reason.trim(), "incident": spec.incident.trim(),
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
        spec.scope,
        spec.effect,
        spec.hours,
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
