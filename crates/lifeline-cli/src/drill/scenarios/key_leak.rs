//! `signing-key-leaked`: the active signing key's private half is stolen. A thief mints
//! licenses with it (new ids, raised entitlements, far expiries) before and after the
//! operator runs the one command, `lifeline keys compromise`. Measured: the time to re-sign
//! every license, how many live clients (CLI and JS) are on their re-signed license within a
//! check interval of their key-set refresh, forgeries accepted after the mark online and at
//! an edge verifier, and lockouts.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lifeline_core::{KeySet, LicenseSigner, Policy, UnixTime};
use serde_json::{Value, json};

use super::watch::sleep_ms;
use crate::drill::lab::{DEADLINE_MS, Lab, Seen, Stream, TIMEOUT_MS};
use crate::drill::{Record, step, unix_now};
use crate::failure::CliError;

/// Licenses in the lab ("thousands").
const LICENSES: usize = 2_000;
/// Live `lifeline check` clients, and JS Clients in one Node process.
const CLI_CLIENTS: usize = 6;
const JS_CLIENTS: usize = 10;
/// How often each client checks.
const CHECK_EVERY_MS: u64 = 1_000;
/// A check's own time on top of the interval (its requests; failover within the deadline).
const CHECK_SLACK_MS: u64 = 500;
/// Nodes re-read their keys this often (`lifeline-server`'s key refresh).
const NODE_KEY_REFRESH_MS: u64 = 1_000;

fn err(what: impl std::fmt::Display) -> CliError {
    CliError::new(format!("drill: {what}"))
}

pub(super) fn signing_key_leaked(lab: &mut Lab, rec: &mut Record) -> Result<(), CliError> {
    let licenses = provision(lab)?;
    step(&format!("{} licenses issued", licenses.len()));
    let (cli, js) = start_clients(lab, &licenses, rec)?;
    let kid = active_kid(lab)?;
    let thief = steal(lab, &kid)?;
    step(&format!("the thief holds signing key {kid}"));
    let mut forged = forge(&thief, "before")?;
    let before = forged.iter().filter(|t| accepted_online(lab, 0, t)).count();
    rec.note(format!(
        "before the mark the leaked key verifies the thief's tokens like any other: {before} of {} accepted online",
        forged.len()
    ));

    // The one command.
    let started = Instant::now();
    let report = compromise(lab, &kid)?;
    let took = started.elapsed();
    let mark = Instant::now();
    rec.detected("incident key_compromised (lifeline keys compromise)", took);
    // Deployments refresh their key set (the clients re-read the file before a check).
    lab.refresh_keys()?;
    let refreshed = Instant::now();
    forged.extend(forge(&thief, "after")?);
    let re_signed = report.get("re_signed").and_then(Value::as_u64).unwrap_or(0);
    let re_sign_s = report
        .get("re_sign_seconds")
        .and_then(Value::as_f64)
        .unwrap_or(0.0);
    let new_kid = report
        .get("active_kid")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    rec.expect(
        "every license re-signed with a fresh key",
        re_signed >= LICENSES as u64 && new_kid != kid,
        format!(
            "{re_signed} licenses re-signed with {new_kid} in {re_sign_s:.2} s ({:.0}/s); the whole command took {:.2} s; issued list {} tokens, {} bytes",
            re_signed as f64 / re_sign_s.max(1e-9),
            took.as_secs_f64(),
            report.get("listed_tokens").and_then(Value::as_u64).unwrap_or(0),
            report.get("list_bytes").and_then(Value::as_u64).unwrap_or(0),
        ),
    );

    // Online: every node, every forged token, from the mark on.
    let (late, window) = probe_forgeries(lab, &forged, mark);
    rec.expect(
        "no forged token accepted online once the nodes have read the mark (1 s)",
        late == 0,
        format!(
            "{late} accepted after {NODE_KEY_REFRESH_MS} ms; {}",
            match window {
                Some(ms) =>
                    format!("the last one accepted {ms} ms after the mark (a node's key refresh)"),
                None => "none accepted after the mark at all".to_owned(),
            }
        ),
    );

    // The edge: the refreshed key set and the issued list, no network.
    edge(lab, rec, &licenses, &forged)?;

    // Clients: each on its re-signed license, within a check interval of the refresh.
    sleep_ms(3 * CHECK_EVERY_MS);
    let mut times = Vec::new();
    let mut seen = Vec::new();
    for (i, s) in cli.into_iter().enumerate() {
        let all = s.stop();
        times.push((format!("cli-{i}"), first_on(&all, &new_kid, refreshed)));
        seen.extend(all);
    }
    if let Some(js) = js {
        for (client, all) in js.stop() {
            times.push((client, first_on(&all, &new_kid, refreshed)));
            seen.extend(all);
        }
    }
    let within = CHECK_EVERY_MS + CHECK_SLACK_MS;
    let on_time = times
        .iter()
        .filter(|(_, t)| t.is_some_and(|ms| ms <= within))
        .count();
    let slowest = times.iter().filter_map(|(_, t)| *t).max();
    let late_ones: Vec<&str> = times
        .iter()
        .filter(|(_, t)| !t.is_some_and(|ms| ms <= within))
        .map(|(c, _)| c.as_str())
        .collect();
    rec.expect(
        "every online client on its re-signed license within one check interval of its key-set refresh",
        on_time == times.len() && !times.is_empty(),
        format!(
            "{on_time} of {} ({} %) within {CHECK_EVERY_MS} ms + {CHECK_SLACK_MS} ms for the check; slowest {}{}",
            times.len(),
            (on_time * 100).checked_div(times.len()).unwrap_or(0),
            slowest.map_or_else(|| "never".to_owned(), |ms| format!("{ms} ms")),
            if late_ones.is_empty() {
                String::new()
            } else {
                format!("; late: {}", late_ones.join(", "))
            }
        ),
    );
    rec.verdicts(&seen, |_| false);
    let lockouts = rec.lockouts();
    rec.expect(
        "no legitimate user locked out",
        lockouts == 0,
        format!("{lockouts} unusable verdicts in {} checks", seen.len()),
    );
    rec.recovered(
        refreshed
            .elapsed()
            .saturating_sub(Duration::from_millis(3 * CHECK_EVERY_MS)),
    );
    Ok(())
}

/// Issues the lab's licenses in bulk through the admin node: (id, token).
fn provision(lab: &Lab) -> Result<Vec<(String, String)>, CliError> {
    let mut out = Vec::with_capacity(LICENSES);
    for chunk in 0..LICENSES.div_ceil(1_000) {
        let n = (LICENSES - chunk * 1_000).min(1_000);
        let batch: Vec<Value> = (0..n)
            .map(|i| {
                json!({"product": "photo-pro", "licensee": format!("customer-{}", chunk * 1_000 + i),
                       "expires_at": unix_now() + 365 * 86_400, "entitlements": ["export"]})
            })
            .collect();
        let answer = lab.admin(
            "POST",
            "/api/v1/licenses/bulk",
            Some(json!({ "licenses": batch })),
        )?;
        for l in answer
            .get("licenses")
            .and_then(Value::as_array)
            .ok_or_else(|| err("the bulk answer has no licenses"))?
        {
            let field = |name: &str| {
                l.get(name)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            out.push((field("id"), field("token")));
        }
    }
    Ok(out)
}

type Clients = (Vec<Stream>, Option<JsClients>);

/// The live clients, each on its own license, all usable before the leak.
fn start_clients(
    lab: &Lab,
    licenses: &[(String, String)],
    rec: &mut Record,
) -> Result<Clients, CliError> {
    let mut cli = Vec::new();
    for (i, (_, token)) in licenses.iter().take(CLI_CLIENTS).enumerate() {
        let file = lab.dir().join(format!("cli-{i}.jwt"));
        std::fs::write(&file, token).map_err(err)?;
        cli.push(lab.stream_of(
            &file,
            &lab.dir().join(format!("cli-{i}.cache.json")),
            CHECK_EVERY_MS,
        )?);
    }
    let js_licenses = licenses
        .get(CLI_CLIENTS..CLI_CLIENTS + JS_CLIENTS)
        .unwrap_or_default();
    let js = match JsClients::start(lab, js_licenses) {
        Ok(js) => Some(js),
        Err(why) => {
            rec.note(format!("JS clients not run: {why}"));
            None
        }
    };
    step(&format!(
        "{} CLI clients and {} JS clients checking every {CHECK_EVERY_MS} ms",
        cli.len(),
        if js.is_some() { JS_CLIENTS } else { 0 }
    ));
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline
        && !(cli.iter().all(|s| s.count() > 0) && js.as_ref().is_none_or(JsClients::all_checked))
    {
        sleep_ms(100);
    }
    Ok((cli, js))
}

fn active_kid(lab: &Lab) -> Result<String, CliError> {
    let keys = lab.admin("GET", "/api/v1/keys", None)?;
    keys.as_array()
        .and_then(|k| {
            k.iter()
                .find(|k| k.get("status").and_then(Value::as_str) == Some("active"))
        })
        .and_then(|k| k.get("kid").and_then(Value::as_str))
        .map(str::to_owned)
        .ok_or_else(|| err("no active key"))
}

/// The leak: the thief copies the key's private half out of the store (a stolen backup).
fn steal(lab: &Lab, kid: &str) -> Result<LicenseSigner, CliError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(err)?;
    let jwk: String = runtime.block_on(async {
        use sqlx::Row as _;
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(lab.db()).await.map_err(err)?;
        let row = sqlx::query("SELECT private_jwk FROM signing_keys WHERE kid = $1")
            .bind(kid)
            .fetch_one(&pool)
            .await
            .map_err(err)?;
        let jwk = row.try_get("private_jwk").map_err(err);
        pool.close().await;
        jwk
    })?;
    LicenseSigner::from_private_jwk_json(jwk.as_bytes()).map_err(err)
}

/// The thief's tokens: a new id, a raised copy of a real licensee's, a far expiry.
fn forge(thief: &LicenseSigner, when: &str) -> Result<Vec<String>, CliError> {
    let now = unix_now();
    [
        json!({"jti": format!("forged-{when}-new"), "sub": "mallory", "entitlements": ["export"], "exp": now + 365 * 86_400}),
        json!({"jti": format!("forged-{when}-raised"), "sub": "customer-0", "entitlements": ["export", "raw", "everything"], "exp": now + 365 * 86_400}),
        json!({"jti": format!("forged-{when}-forever"), "sub": "mallory", "entitlements": ["export"], "exp": now + 90 * 365 * 86_400}),
    ]
    .into_iter()
    .map(|c| {
        let mut claims = match c {
            Value::Object(map) => map,
            _ => serde_json::Map::new(),
        };
        claims.insert("iss".into(), "lifeline".into());
        claims.insert("aud".into(), "photo-pro".into());
        claims.insert("iat".into(), now.into());
        thief.sign_license(&claims).map_err(err)
    })
    .collect()
}

/// Whether validation node `node` answers `token` with a usable verdict.
fn accepted_online(lab: &Lab, node: usize, token: &str) -> bool {
    let Some(url) = lab.nodes.get(node).map(|n| n.url.clone()) else {
        return false;
    };
    lab.call(
        "POST",
        &url,
        "/api/v1/validate",
        Some(json!({ "token": token })),
    )
    .ok()
    .and_then(|(_, v)| v.get("verdict")?.get("state")?.as_str().map(str::to_owned))
    .is_some_and(|s| matches!(s.as_str(), "valid" | "grace" | "override"))
}

/// Sends every forged token to every node for 2 s from the mark: how many were accepted
/// once the nodes' key refresh had passed, and when the last acceptance came (ms).
fn probe_forgeries(lab: &Lab, forged: &[String], mark: Instant) -> (usize, Option<u64>) {
    let mut late = 0;
    let mut last = None;
    while mark.elapsed() < Duration::from_millis(2 * NODE_KEY_REFRESH_MS + 500) {
        for node in 0..lab.nodes.len() {
            for token in forged {
                let at = u64::try_from(mark.elapsed().as_millis()).unwrap_or(u64::MAX);
                if accepted_online(lab, node, token) {
                    last = Some(at);
                    if at > NODE_KEY_REFRESH_MS {
                        late += 1;
                    }
                }
            }
        }
        sleep_ms(50);
    }
    (late, last)
}

/// An edge verifier after its key-set refresh: the licenses machines hold (their first
/// tokens, signed by the leaked key) and the forgeries, without and with the issued list.
fn edge(
    lab: &Lab,
    rec: &mut Record,
    licenses: &[(String, String)],
    forged: &[String],
) -> Result<(), CliError> {
    let jwks = std::fs::read(&lab.keys_path).map_err(err)?;
    let mut keys = KeySet::from_jwks_json(&jwks).map_err(err)?;
    let doc: Value = serde_json::from_slice(&jwks).map_err(err)?;
    let list_url = doc
        .get("keys")
        .and_then(Value::as_array)
        .and_then(|k| {
            k.iter()
                .find_map(|k| k.get("issued_list")?.as_str().map(str::to_owned))
        })
        .ok_or_else(|| err("the refreshed key set names no issued list"))?;
    let path = list_url
        .find("/.well-known/")
        .and_then(|at| list_url.get(at..))
        .unwrap_or_default()
        .to_owned();
    let mut response = ureq::get(format!("{}{path}", lab.admin.url))
        .call()
        .map_err(err)?;
    let list = response
        .body_mut()
        .with_config()
        .limit(64 * 1024 * 1024)
        .read_to_string()
        .map_err(err)?;
    let policy = Policy::new().with_audience("photo-pro");
    let now = UnixTime::from_secs(unix_now());
    let usable = |keys: &KeySet, tokens: &mut dyn Iterator<Item = &str>| {
        tokens
            .filter(|t| lifeline_core::verify(t.as_bytes(), keys, &policy, now).is_usable())
            .count()
    };
    let before_list = usable(&keys, &mut licenses.iter().map(|(_, t)| t.as_str()));
    keys.add_issued_list(list.as_bytes()).map_err(err)?;
    let legit = usable(&keys, &mut licenses.iter().map(|(_, t)| t.as_str()));
    let forgeries = usable(&keys, &mut forged.iter().map(String::as_str));
    rec.note(format!(
        "an edge verifier with the new key set but not yet the issued list accepts {before_list} of the {} old tokens (fail closed until it fetches the list, {} bytes)",
        licenses.len(),
        list.len()
    ));
    rec.expect(
        "at the edge, with the key set and issued list: every license the vendor issued verifies, no forgery does",
        legit == licenses.len() && forgeries == 0,
        format!(
            "{legit} of {} old tokens accepted; {forgeries} of {} forged tokens accepted",
            licenses.len(),
            forged.len()
        ),
    );
    Ok(())
}

/// Runs `lifeline keys compromise` against the admin node: its report.
fn compromise(lab: &Lab, kid: &str) -> Result<Value, CliError> {
    step(&format!("lifeline keys compromise {kid}"));
    let out = Command::new(lab.exe())
        .args([
            "keys",
            "compromise",
            kid,
            "--reason",
            "drill: the signing key leaked",
        ])
        .args([
            "--incident",
            "DRILL-signing-key-leaked",
            "--server",
            &lab.admin.url,
        ])
        .env("LIFELINE_TOKEN", lab.token())
        .stdin(Stdio::null())
        .output()
        .map_err(err)?;
    if !out.status.success() {
        return Err(err(format!(
            "lifeline keys compromise failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    serde_json::from_slice(&out.stdout).map_err(err)
}

/// Milliseconds from `from` to the first verdict on a license signed by `kid`.
fn first_on(seen: &[Seen], kid: &str, from: Instant) -> Option<u64> {
    seen.iter()
        .filter(|s| s.at >= from && s.kid.as_deref() == Some(kid))
        .map(|s| u64::try_from((s.at - from).as_millis()).unwrap_or(u64::MAX))
        .min()
}

/// The JS Clients: one Node process running the npm package's `Client` per license.
struct JsClients {
    child: Child,
    seen: Arc<Mutex<Vec<(String, Seen)>>>,
}

impl JsClients {
    fn start(lab: &Lab, licenses: &[(String, String)]) -> Result<Self, String> {
        let package = package_dir().ok_or(
            "the npm package was not found (set LIFELINE_NPM_DIST, or run `make npm` in the repository)",
        )?;
        let script = lab.dir().join("js_clients.mjs");
        std::fs::write(&script, include_str!("../js_clients.mjs")).map_err(|e| e.to_string())?;
        let config = json!({
            "nodes": lab.nodes.iter().map(|n| n.url.clone()).collect::<Vec<_>>(),
            "keysPath": lab.keys_path, "dir": lab.dir(), "everyMs": CHECK_EVERY_MS,
            "timeoutMs": TIMEOUT_MS, "deadlineMs": DEADLINE_MS,
            "licenses": licenses.iter().map(|(id, token)| json!({"id": id, "token": token})).collect::<Vec<_>>(),
        });
        let config_path = lab.dir().join("js_clients.json");
        std::fs::write(&config_path, config.to_string()).map_err(|e| e.to_string())?;
        let mut child = Command::new("node")
            .arg(&script)
            .arg(&package)
            .arg(&config_path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start node: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout from node")?;
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let client = serde_json::from_str::<Value>(&line)
                    .ok()
                    .and_then(|v| v.get("client")?.as_str().map(str::to_owned))
                    .unwrap_or_default();
                if let Ok(mut s) = sink.lock() {
                    s.push((client, Seen::parse(&line, Instant::now())));
                }
            }
        });
        Ok(Self { child, seen })
    }

    fn all_checked(&self) -> bool {
        self.seen.lock().is_ok_and(|s| {
            let clients: std::collections::BTreeSet<&str> =
                s.iter().map(|(c, _)| c.as_str()).collect();
            clients.len() >= JS_CLIENTS
        })
    }

    /// Stops the process (closing its stdin); what each client saw.
    fn stop(mut self) -> Vec<(String, Vec<Seen>)> {
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            sleep_ms(50);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let seen = self.seen.lock().map(|s| s.clone()).unwrap_or_default();
        let mut by: std::collections::BTreeMap<String, Vec<Seen>> = Default::default();
        for (c, s) in seen {
            by.entry(c).or_default().push(s);
        }
        by.into_iter().collect()
    }
}

/// The built npm package: `$LIFELINE_NPM_DIST`, or `dist/npm` in the working directory, the
/// binary's directory or one above them (a checkout where `make npm` ran).
fn package_dir() -> Option<PathBuf> {
    let is_package = |p: &Path| p.join("node/lifeline_wasm.js").is_file();
    if let Some(dir) = std::env::var_os("LIFELINE_NPM_DIST").map(PathBuf::from) {
        return is_package(&dir).then_some(dir);
    }
    let starts = [std::env::current_dir().ok(), std::env::current_exe().ok()];
    starts
        .into_iter()
        .flatten()
        .flat_map(|start| start.ancestors().map(Path::to_path_buf).collect::<Vec<_>>())
        .map(|dir| dir.join("dist/npm"))
        .find(|dir| is_package(dir))
}
