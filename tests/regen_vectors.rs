//! Rewrites `tests/vectors/licenses/*.json` and `tests/vectors/keysets/*.json` from the
//! generator in the test kit. Deterministic: running it twice changes nothing.

use std::process::ExitCode;

fn main() -> ExitCode {
    let dir = lifeline_tests::vectors_dir();
    for sub in ["licenses", "keysets"] {
        // Start clean so a removed vector does not linger.
        let path = dir.join(sub);
        if path.exists()
            && let Err(e) = std::fs::remove_dir_all(&path)
        {
            eprintln!("cannot clear {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    let files = lifeline_tests::generate();
    for (relative, contents) in &files {
        let path = dir.join(relative);
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&path, contents));
        if let Err(e) = written {
            eprintln!("cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    println!("wrote {} vector files under {}", files.len(), dir.display());
    ExitCode::SUCCESS
}
