//! Reading inputs with a size cap and writing key files safely.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;

use lifeline_core::{KeySet, MAX_KEY_SET_BYTES};

use crate::failure::CliError;

/// Reads at most `limit` bytes from a file, or from stdin for `-`. More than that is an
/// error, so `/dev/zero` or a huge file can never hang or exhaust memory.
pub(crate) fn read_capped(path: &str, limit: usize, what: &str) -> Result<Vec<u8>, CliError> {
    let bytes = read_up_to(path, limit, what)?;
    if bytes.len() > limit {
        return Err(CliError::new(format!(
            "{what} {path} is larger than {limit} bytes"
        )));
    }
    Ok(bytes)
}

/// Reads at most `limit + 1` bytes, so the caller can tell "too large" without reading on.
pub(crate) fn read_up_to(path: &str, limit: usize, what: &str) -> Result<Vec<u8>, CliError> {
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    let mut bytes = Vec::new();
    let read = if path == "-" {
        io::stdin().lock().take(cap).read_to_end(&mut bytes)
    } else {
        File::open(path)
            .map_err(|e| io_error(e, what, path))?
            .take(cap)
            .read_to_end(&mut bytes)
    };
    read.map_err(|e| io_error(e, what, path))?;
    Ok(bytes)
}

/// Reads and checks a public key set (JWKS).
pub(crate) fn read_key_set(path: &str) -> Result<KeySet, CliError> {
    let bytes = read_capped(path, MAX_KEY_SET_BYTES, "key set")?;
    KeySet::from_jwks_json(&bytes).map_err(|e| {
        CliError::new(format!("key set {path}: {e} [{}]", e.code()))
            .hint("pass the keys.json written by `lifeline keygen` or served by the license server")
    })
}

/// Reads a key set and adds the issued lists of its compromised keys (files written from
/// the server's `/.well-known/lifeline/issued/KID`), each verified against the set.
pub(crate) fn read_key_set_with_lists(path: &str, lists: &[String]) -> Result<KeySet, CliError> {
    let mut keys = read_key_set(path)?;
    for list in lists {
        let bytes = read_capped(list, lifeline_core::MAX_ISSUED_LIST_BYTES, "issued list")?;
        keys.add_issued_list(&bytes).map_err(|e| {
            CliError::new(format!("issued list {list}: {e} [{}]", e.reason())).hint(
                "fetch it again from the server's /.well-known/lifeline/issued/KID, with a key set that has the key that signed it",
            )
        })?;
    }
    Ok(keys)
}

pub(crate) fn io_error(error: io::Error, what: &str, path: &str) -> CliError {
    let hint = match error.kind() {
        io::ErrorKind::NotFound => Some("check the path"),
        io::ErrorKind::PermissionDenied => Some("check the file's permissions"),
        _ => None,
    };
    let e = CliError::new(format!("cannot read {what} {path}: {error}"));
    match hint {
        Some(h) => e.hint(h),
        None => e,
    }
}

/// Creates a new file readable by its owner only (mode 0600 on Unix). Never overwrites.
pub(crate) fn create_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// Replaces `path` atomically: write a temporary file beside it, then rename.
pub(crate) fn replace_atomically(path: &Path, contents: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("json.tmp");
    {
        let mut file = File::create(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
    }
    fs::rename(&tmp, path)
}

/// Replaces the existing file `path` atomically with `contents`, keeping its permissions: a
/// temporary file beside it, with the same mode, written and synced, then renamed over it
/// (a reader sees the old file or the new one, never half of one).
pub(crate) fn replace_keeping_mode(path: &Path, contents: &[u8]) -> io::Result<()> {
    let permissions = fs::metadata(path)?.permissions();
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".lifeline-new");
    let tmp = path.with_file_name(name);
    let written = (|| {
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
            options.mode(permissions.mode() & 0o777);
        }
        let mut file = options.open(&tmp)?;
        // The umask may have narrowed the mode: set it exactly.
        file.set_permissions(permissions.clone())?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

/// Warns when a private key file can be read by others (Unix only).
pub(crate) fn warn_if_exposed(path: &str) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = fs::metadata(path) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                eprintln!(
                    "warning: private key {path} is readable by others (mode {mode:o}); run `chmod 600 {path}`"
                );
            }
        }
    }
}
