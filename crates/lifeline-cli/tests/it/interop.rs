//! Runs the Node interop suite (`tests/interop/`, Node's own crypto as an independent JOSE
//! implementation) against this build of the `lifeline` binary.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::process::Command;

#[test]
fn node_crypto_and_lifeline_verify_each_others_tokens() {
    let _lab = crate::common::beside_others();
    let repo = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let out = Command::new("node")
        .args(["--test", "tests/interop/"])
        .current_dir(repo)
        .env("LIFELINE_BIN", env!("CARGO_BIN_EXE_lifeline"))
        .output()
        .expect("node is installed (make test's setup installs it)");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        report.contains("# pass 2") && report.contains("# fail 0"),
        "{report}"
    );
}
