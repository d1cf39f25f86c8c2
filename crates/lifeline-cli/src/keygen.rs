use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use lifeline_core::{KeySet, LicenseSigner, MAX_KEY_SET_BYTES, UnixTime};
use serde_json::{Map, Value};

use crate::failure::CliError;
use crate::files;

/// Make a new Ed25519 signing key.
///
/// Writes DIR/ID.jwk (the private key, mode 0600, never overwritten) and adds the public
/// key to DIR/keys.json (created, or merged into an existing key set).
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Key id: letters, digits, '.', '_' and '-' (it also names the file).
    #[arg(long, value_name = "ID")]
    kid: String,
    /// Directory for the key files (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Start of the key's signing window (unix seconds).
    #[arg(long, value_name = "UNIX_SECONDS")]
    not_before: Option<u64>,
    /// End of the key's signing window (unix seconds): licenses signed later are refused,
    /// licenses signed earlier stay valid.
    #[arg(long, value_name = "UNIX_SECONDS")]
    not_after: Option<u64>,
    /// Make an emergency override key: it signs overrides only, and verifiers refuse
    /// licenses it signs (its public JWK carries "lifeline_use": "override"). Keep it apart
    /// from the license signing keys, offline if you can.
    #[arg(long)]
    for_overrides: bool,
}

pub(crate) fn run(args: &Args) -> Result<ExitCode, CliError> {
    check_kid(&args.kid)?;
    fs::create_dir_all(&args.out).map_err(|e| {
        CliError::new(format!(
            "cannot create directory {}: {e}",
            args.out.display()
        ))
    })?;
    let key_path = args.out.join(format!("{}.jwk", args.kid));
    let set_path = args.out.join("keys.json");
    if key_path.exists() {
        return Err(
            CliError::new(format!("{} already exists", key_path.display()))
                .hint("choose another --kid; a key file is never overwritten"),
        );
    }
    let mut set_doc = read_existing_set(&set_path)?;

    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed)
        .map_err(|e| CliError::new(format!("the system random generator failed: {e}")))?;
    let signer = LicenseSigner::from_seed(args.kid.clone(), &seed);
    seed.fill(0);
    let public = signer
        .public_key()
        .and_then(|k| {
            k.with_window(
                args.not_before.map(UnixTime::from_secs),
                args.not_after.map(UnixTime::from_secs),
            )
        })
        .map(|k| {
            if args.for_overrides {
                k.for_overrides_only()
            } else {
                k
            }
        })
        .map_err(|e| CliError::new(format!("key: {e}")))?;

    let mut set = KeySet::from_jwks(&set_doc).map_err(|e| set_error(&set_path, &e))?;
    set.insert(public.clone()).map_err(|_| {
        CliError::new(format!(
            "{} already has a key with kid {:?}",
            set_path.display(),
            args.kid
        ))
        .hint("choose another --kid")
    })?;
    if let Some(Value::Array(keys)) = set_doc.get_mut("keys") {
        keys.push(public.to_jwk());
    }

    let private = pretty(&signer.to_private_jwk());
    files::create_private(&key_path, private.as_bytes())
        .map_err(|e| CliError::new(format!("cannot write {}: {e}", key_path.display())))?;
    files::replace_atomically(&set_path, pretty(&Value::Object(set_doc)).as_bytes())
        .map_err(|e| CliError::new(format!("cannot write {}: {e}", set_path.display())))?;

    eprintln!(
        "wrote private key {} (mode 0600: keep it secret)",
        key_path.display()
    );
    eprintln!(
        "added public key {:?} to {} ({} keys)",
        args.kid,
        set_path.display(),
        set.len()
    );
    Ok(ExitCode::SUCCESS)
}

fn check_kid(kid: &str) -> Result<(), CliError> {
    let ok = !kid.is_empty()
        && kid.len() <= 64
        && !kid.starts_with('.')
        && kid
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(CliError::new(format!("invalid --kid {kid:?}"))
            .hint("use 1 to 64 letters, digits, '.', '_' or '-', not starting with '.'"))
    }
}

/// The existing key set document, kept as JSON so members we don't model survive the merge.
fn read_existing_set(path: &Path) -> Result<Map<String, Value>, CliError> {
    if !path.exists() {
        let mut doc = Map::new();
        doc.insert("keys".into(), Value::Array(Vec::new()));
        return Ok(doc);
    }
    let shown = path.display().to_string();
    let bytes = files::read_capped(&shown, MAX_KEY_SET_BYTES, "key set")?;
    // Validate the whole set strictly (duplicate members, weak keys, ...) before touching it.
    KeySet::from_jwks_json(&bytes).map_err(|e| set_error(path, &e))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(doc)) => Ok(doc),
        _ => Err(CliError::new(format!("{shown} is not a JWKS object"))),
    }
}

fn set_error(path: &Path, e: &lifeline_core::KeySetError) -> CliError {
    CliError::new(format!("{}: {e} [{}]", path.display(), e.code()))
        .hint("fix or move the existing key set, then run keygen again")
}

fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    text.push('\n');
    text
}
