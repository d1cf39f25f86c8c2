//! The `lifeline` binary, driven as a user would: real files, real processes, exit codes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

fn lifeline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lifeline"))
        .args(args)
        .output()
        .unwrap()
}

fn lifeline_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lifeline"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    // Write from a thread: the binary may stop reading early (size cap).
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

fn stdout_json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A key directory with key `k1` and a license issued from `claims`.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let out = lifeline(&["keygen", "--kid", "k1", "--out", path(dir.path())]);
        assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
        Self { dir }
    }

    fn file(&self, name: &str) -> String {
        path(&self.dir.path().join(name)).to_owned()
    }

    fn write(&self, name: &str, contents: &[u8]) -> String {
        let p = self.file(name);
        std::fs::write(&p, contents).unwrap();
        p
    }

    fn issue(&self, claims: &Value) -> Output {
        let claims_file = self.write("claims.json", claims.to_string().as_bytes());
        lifeline(&[
            "issue",
            "--key",
            &self.file("k1.jwk"),
            "--claims",
            &claims_file,
        ])
    }

    fn token(&self, claims: &Value) -> String {
        let out = self.issue(claims);
        assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    fn verify(&self, extra: &[&str], token: &str) -> Output {
        let file = self.write("license.jwt", token.as_bytes());
        let keys = self.file("keys.json");
        let mut args = vec!["verify", "--keys", &keys];
        args.extend_from_slice(extra);
        args.push(&file);
        lifeline(&args)
    }
}

fn claims() -> Value {
    json!({"iss": "vendor", "sub": "acme", "aud": "photo-pro", "exp": 4_102_444_800_u64, "entitlements": ["export"], "grace_s": 86_400})
}

#[test]
fn keygen_writes_a_private_key_0600_and_merges_the_key_set() {
    let _lab = crate::common::beside_others();
    let s = Setup::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(s.file("k1.jwk"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
    }
    let private: Value =
        serde_json::from_str(&std::fs::read_to_string(s.file("k1.jwk")).unwrap()).unwrap();
    assert_eq!(private["kty"], "OKP");
    assert_eq!(private["crv"], "Ed25519");
    assert_eq!(private["kid"], "k1");
    assert!(private["d"].as_str().is_some_and(|d| d.len() == 43));

    let out = lifeline(&[
        "keygen",
        "--kid",
        "k2",
        "--out",
        path(s.dir.path()),
        "--not-after",
        "4102444800",
    ]);
    assert_eq!(code(&out), 0);
    let set: Value =
        serde_json::from_str(&std::fs::read_to_string(s.file("keys.json")).unwrap()).unwrap();
    let keys = set["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0]["kid"], "k1");
    assert_eq!(keys[1]["not_after"], 4_102_444_800_u64);
    assert!(
        keys.iter().all(|k| k.get("d").is_none()),
        "no private part in the key set"
    );
}

#[test]
fn keygen_refuses_overwrites_bad_kids_and_broken_key_sets() {
    let _lab = crate::common::beside_others();
    let s = Setup::new();
    let before = std::fs::read(s.file("k1.jwk")).unwrap();
    let again = lifeline(&["keygen", "--kid", "k1", "--out", path(s.dir.path())]);
    assert_eq!(code(&again), 2);
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    assert_eq!(
        std::fs::read(s.file("k1.jwk")).unwrap(),
        before,
        "key file untouched"
    );

    for kid in ["../escape", "a/b", "", ".hidden", "sp ace"] {
        let out = lifeline(&["keygen", "--kid", kid, "--out", path(s.dir.path())]);
        assert_eq!(code(&out), 2, "{kid:?}");
        assert!(out.stdout.is_empty());
    }

    s.write("keys.json", b"{\"keys\": [\"oops\"]}");
    let out = lifeline(&["keygen", "--kid", "k3", "--out", path(s.dir.path())]);
    assert_eq!(code(&out), 2);
    assert!(
        !s.dir.path().join("k3.jwk").exists(),
        "no key written when the set is broken"
    );
}

#[test]
fn issue_fills_iat_nbf_and_a_random_jti() {
    let _lab = crate::common::beside_others();
    let s = Setup::new();
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let a = s.token(&claims());
    let b = s.token(&claims());
    let inspect = |t: &str| {
        let f = s.write("t.jwt", t.as_bytes());
        let out = lifeline(&["inspect", &f]);
        assert_eq!(code(&out), 0);
        stdout_json(&out)
    };
    let (ia, ib) = (inspect(&a), inspect(&b));
    assert_eq!(ia["verified"], false);
    assert_eq!(
        ia["header"],
        json!({"alg": "EdDSA", "typ": "lifeline-license+jwt", "kid": "k1"})
    );
    let iat = ia["claims"]["iat"].as_u64().unwrap();
    assert!(iat >= before && iat <= before + 60);
    assert_eq!(ia["claims"]["nbf"], ia["claims"]["iat"]);
    let jti = ia["claims"]["jti"].as_str().unwrap();
    assert_eq!(jti.len(), 36, "a UUID: {jti}");
    assert_ne!(ia["claims"]["jti"], ib["claims"]["jti"]);
    // Given values are kept.
    let mut fixed = claims();
    fixed["jti"] = "lic-7".into();
    fixed["iat"] = 1_700_000_000.into();
    let ic = inspect(&s.token(&fixed));
    assert_eq!(ic["claims"]["jti"], "lic-7");
    assert_eq!(ic["claims"]["nbf"], 1_700_000_000);
}

#[test]
fn issue_refuses_bad_claims_and_keys_with_exit_2_and_empty_stdout() {
    let _lab = crate::common::beside_others();
    let s = Setup::new();
    let mut no_exp = claims();
    no_exp.as_object_mut().unwrap().remove("exp");
    let out = s.issue(&no_exp);
    assert_eq!(code(&out), 2);
    assert!(out.stdout.is_empty());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("\"exp\" is missing"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let dup = s.write(
        "dup.json",
        br#"{"iss":"v","sub":"a","sub":"b","aud":"p","exp":4102444800,"entitlements":[]}"#,
    );
    let out = lifeline(&["issue", "--key", &s.file("k1.jwk"), "--claims", &dup]);
    assert_eq!(code(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("duplicate"));

    let out = lifeline(&[
        "issue",
        "--key",
        &s.file("keys.json"),
        "--claims",
        &s.write("c.json", claims().to_string().as_bytes()),
    ]);
    assert_eq!(code(&out), 2, "a public key set is not a private key");
    assert!(out.stdout.is_empty());
    let out = lifeline(&[
        "issue",
        "--key",
        &s.file("missing.jwk"),
        "--claims",
        &s.file("c.json"),
    ]);
    assert_eq!(code(&out), 2);
}

#[test]
fn verify_prints_one_verdict_and_exits_by_usability() {
    let _lab = crate::common::beside_others();
    let s = Setup::new();
    let token = s.token(&claims());

    let out = s.verify(&["--aud", "photo-pro"], &token);
    assert_eq!(code(&out), 0);
    assert_eq!(
        out.stdout.iter().filter(|&&b| b == b'\n').count(),
        1,
        "one line of JSON"
    );
    let v = stdout_json(&out);
    assert_eq!(v["state"], "valid");
    assert_eq!(v["reason"], Value::Null);
    assert_eq!(v["kid"], "k1");
    assert_eq!(v["expires_at"], 4_102_444_800_u64);
    assert_eq!(v["grace_until"], 4_102_444_800_u64 + 86_400);
    assert_eq!(v["claims"]["sub"], "acme");

    let grace = s.verify(&["--at", "4102444801"], &token);
    assert_eq!(code(&grace), 0);
    assert_eq!(stdout_json(&grace)["state"], "grace");

    let expired = s.verify(&["--at", "4102531200"], &token);
    assert_eq!(code(&expired), 1);
    assert_eq!(stdout_json(&expired)["reason"], "expired");

    let wrong = s.verify(&["--aud", "video-pro"], &token);
    assert_eq!(code(&wrong), 1);
    assert_eq!(stdout_json(&wrong)["reason"], "wrong_audience");

    let from_stdin = lifeline_stdin(
        &["verify", "--keys", &s.file("keys.json"), "-"],
        token.as_bytes(),
    );
    assert_eq!(code(&from_stdin), 0);
    let implicit_stdin = lifeline_stdin(
        &["verify", "--keys", &s.file("keys.json")],
        token.as_bytes(),
    );
    assert_eq!(code(&implicit_stdin), 0);
}

#[test]
fn a_tampered_token_is_refused() {
    let _lab = crate::common::beside_others();
    let s = Setup::new();
    let token = s.token(&claims());
    let trimmed = token.trim_end();
    let mut bytes = trimmed.as_bytes().to_vec();
    let middle = bytes.len() / 2;
    bytes[middle] = if bytes[middle] == b'A' { b'B' } else { b'A' };
    let out = s.verify(&[], std::str::from_utf8(&bytes).unwrap());
    assert_eq!(code(&out), 1);
    let v = stdout_json(&out);
    assert_eq!(v["state"], "invalid");
    assert!(
        v["claims"].is_null(),
        "claims of a tampered token are never shown"
    );
}

#[test]
fn verify_usage_and_io_errors_exit_2_with_nothing_on_stdout() {
    let _lab = crate::common::beside_others();
    let s = Setup::new();
    let token = s.token(&claims());
    let lic = s.write("lic.jwt", token.as_bytes());
    let cases: Vec<Vec<String>> = vec![
        vec!["verify".into(), "--keys".into(), s.file("nope.json"), lic.clone()],
        vec!["verify".into(), "--keys".into(), s.file("keys.json"), s.file("missing.jwt")],
        vec!["verify".into(), "--keys".into(), s.write("weak.json", br#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"w","x":"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}]}"#), lic.clone()],
        vec!["verify".into(), "--keys".into(), s.write("garbage.json", b"\xff\xfe"), lic.clone()],
        vec!["verify".into(), "--keys".into(), s.file("keys.json"), "--at".into(), "yesterday".into(), lic.clone()],
        vec!["verify".into(), lic.clone()],
        vec!["verify".into(), "--keys".into(), s.file("keys.json"), path(s.dir.path()).to_owned()],
    ];
    for args in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = lifeline(&args);
        assert_eq!(
            code(&out),
            2,
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?}");
    }
    let weak = lifeline(&["verify", "--keys", &s.file("weak.json"), &lic]);
    assert!(String::from_utf8_lossy(&weak.stderr).contains("weak_key"));
}

#[test]
fn malformed_input_of_any_shape_is_exit_1_malformed() {
    let _lab = crate::common::beside_others();
    let s = Setup::new();
    let inputs: Vec<Vec<u8>> = vec![
        vec![],
        b"\n\n".to_vec(),
        b"not a token".to_vec(),
        vec![0xff; 300],
        vec![0; 70_000],
        b"...".to_vec(),
        b"e30.e30.e30".to_vec(),
        "\u{1F600}.\u{1F600}.\u{1F600}".as_bytes().to_vec(),
        vec![b'A'; 2 * 1024 * 1024],
        [b"eyJhbGciOiJFZERTQSJ9.".as_slice(), &[b'x'; 100_000]].concat(),
    ];
    for input in inputs {
        let out = lifeline_stdin(&["verify", "--keys", &s.file("keys.json"), "-"], &input);
        assert_eq!(
            code(&out),
            1,
            "input of {} bytes: {}",
            input.len(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            stdout_json(&out)["reason"],
            "malformed",
            "input of {} bytes",
            input.len()
        );
    }
}

#[test]
fn every_license_vector_gives_its_verdict_and_exit_code_through_the_cli() {
    let _lab = crate::common::beside_others();
    let s = Setup::new();
    for (name, v) in lifeline_tests::read_license_vectors() {
        let keys = s.write("vector-keys.json", v.keys.to_string().as_bytes());
        let token = s.write("vector.jwt", v.token.as_bytes());
        let now = v.now.to_string();
        let mut args = vec!["verify", "--keys", &keys, "--at", &now];
        if let Some(aud) = &v.audience {
            args.extend(["--aud", aud]);
        }
        args.push(&token);
        let out = lifeline(&args);
        let verdict = stdout_json(&out);
        assert_eq!(verdict["state"], v.expected.state, "{name}");
        assert_eq!(
            verdict["reason"].as_str(),
            v.expected.reason.as_deref(),
            "{name}"
        );
        let usable = v.expected.state == "valid" || v.expected.state == "grace";
        assert_eq!(code(&out), if usable { 0 } else { 1 }, "{name}");
    }
}

#[test]
fn inspect_marks_output_unverified_and_refuses_undecodable_input() {
    let _lab = crate::common::beside_others();
    let s = Setup::new();
    let token = s.token(&claims());
    let f = s.write("lic.jwt", token.as_bytes());
    let out = lifeline(&["inspect", &f]);
    assert_eq!(code(&out), 0);
    assert!(String::from_utf8_lossy(&out.stderr).contains("UNVERIFIED"));
    assert_eq!(stdout_json(&out)["verified"], false);
    let bad = s.write("bad.jwt", b"nope");
    let out = lifeline(&["inspect", &bad]);
    assert_eq!(code(&out), 1);
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("malformed"));
}

#[test]
fn every_command_has_help() {
    let _lab = crate::common::beside_others();
    for cmd in [
        vec!["--help"],
        vec!["keygen", "--help"],
        vec!["issue", "--help"],
        vec!["verify", "--help"],
        vec!["inspect", "--help"],
    ] {
        let out = lifeline(&cmd);
        assert_eq!(code(&out), 0, "{cmd:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Usage:"), "{cmd:?}: {text}");
    }
    let out = lifeline(&["frobnicate"]);
    assert_eq!(code(&out), 2);
}

#[test]
fn an_override_minted_with_the_emergency_key_rescues_a_license_offline() {
    let _lab = crate::common::beside_others();
    let dir = tempfile::tempdir().unwrap();
    let d = path(dir.path());
    let closed = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 5)
    .to_string();
    // A license key whose window closed by mistake, and an emergency override key.
    assert_eq!(
        code(&lifeline(&[
            "keygen",
            "--kid",
            "lic-1",
            "--out",
            d,
            "--not-after",
            &closed
        ])),
        0
    );
    assert_eq!(
        code(&lifeline(&[
            "keygen",
            "--kid",
            "emergency-1",
            "--out",
            d,
            "--for-overrides"
        ])),
        0
    );
    let keys = dir.path().join("keys.json");
    let set: Value = serde_json::from_slice(&std::fs::read(&keys).unwrap()).unwrap();
    let emergency = set["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == "emergency-1")
        .unwrap();
    assert_eq!(emergency["lifeline_use"], "override");

    let claims = dir.path().join("claims.json");
    std::fs::write(
        &claims,
        r#"{"iss":"v","sub":"acme","aud":"app","exp":4102444800,"entitlements":["pro"]}"#,
    )
    .unwrap();
    let issued = lifeline(&[
        "issue",
        "--key",
        &format!("{d}/lic-1.jwk"),
        "--claims",
        path(&claims),
    ]);
    let license = dir.path().join("license.jwt");
    std::fs::write(&license, &issued.stdout).unwrap();
    let refused = lifeline(&["verify", "--keys", path(&keys), path(&license)]);
    assert_eq!(code(&refused), 1);
    assert_eq!(stdout_json(&refused)["reason"], "key_expired");

    // The emergency key cannot sign licenses that verify.
    let forged = lifeline(&[
        "issue",
        "--key",
        &format!("{d}/emergency-1.jwk"),
        "--claims",
        path(&claims),
    ]);
    let forged_file = dir.path().join("forged.jwt");
    std::fs::write(&forged_file, &forged.stdout).unwrap();
    let out = lifeline(&["verify", "--keys", path(&keys), path(&forged_file)]);
    assert_eq!(
        (code(&out), stdout_json(&out)["reason"].clone()),
        (1, json!("unknown_key"))
    );

    // Minted with no server: the license is usable, state override, naming it.
    let minted = lifeline(&[
        "override",
        "mint",
        "--key",
        &format!("{d}/emergency-1.jwk"),
        "--scope",
        "licensee:acme",
        "--hours",
        "4",
        "--reason",
        "key window closed by mistake",
        "--incident",
        "INC-9",
    ]);
    assert_eq!(
        code(&minted),
        0,
        "{}",
        String::from_utf8_lossy(&minted.stderr)
    );
    let ovr = dir.path().join("override.jwt");
    std::fs::write(&ovr, &minted.stdout).unwrap();
    let out = lifeline(&[
        "verify",
        "--keys",
        path(&keys),
        "--override",
        path(&ovr),
        path(&license),
    ]);
    assert_eq!(code(&out), 0);
    let verdict = stdout_json(&out);
    assert_eq!(verdict["state"], "override");
    assert_eq!(verdict["reason"], "key_expired");
    assert_eq!(verdict["override"]["incident"], "INC-9");
    assert_eq!(
        verdict["override"]["scope"],
        json!({"type": "licensee", "value": "acme"})
    );
    // Replay after its expiry changes nothing; neither does a license passed as override.
    let late = lifeline(&[
        "verify",
        "--keys",
        path(&keys),
        "--at",
        "4000000000",
        "--override",
        path(&ovr),
        path(&license),
    ]);
    assert_eq!(code(&late), 1);
    let wrong = lifeline(&[
        "verify",
        "--keys",
        path(&keys),
        "--override",
        path(&license),
        path(&license),
    ]);
    assert_eq!(code(&wrong), 1);
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("wrong_type"));

    // Bad requests are refused with a clear message and exit 2.
    for (args, says) in [
        (vec!["--scope", "everything"], "not a scope"),
        (
            vec!["--scope", "all", "--effect", "entitlements:"],
            "not an effect",
        ),
        (vec!["--scope", "all", "--hours", "100"], "second person"),
        (vec!["--scope", "all", "--hours", "0"], "at least 1"),
        // The red team's 100-year emergency override: refused, approval or not.
        (
            vec![
                "--scope",
                "all",
                "--hours",
                "876000",
                "--approved-by",
                "myself",
            ],
            "at most 720 hours",
        ),
        (
            vec![
                "--scope",
                "all",
                "--hours",
                "721",
                "--approved-by",
                "a-colleague",
            ],
            "at most 720 hours",
        ),
    ] {
        let key = format!("{d}/emergency-1.jwk");
        let mut all = vec![
            "override",
            "mint",
            "--key",
            key.as_str(),
            "--reason",
            "r",
            "--incident",
            "i",
        ];
        all.extend(args.iter().copied());
        let out = lifeline(&all);
        assert_eq!(code(&out), 2, "{args:?}");
        assert!(out.stdout.is_empty());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(says),
            "{args:?}"
        );
    }
}
