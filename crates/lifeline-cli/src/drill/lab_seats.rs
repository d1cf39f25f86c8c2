//! The lab's seat helpers: licenses with seats, machines holding them (`lifeline check
//! --seat`), activations through a node, the seats as operators see them.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::{Lab, Stream, err};
use crate::failure::CliError;

impl Lab {
    /// A machine holding a seat of the license in `license` (`lifeline check --seat` with
    /// its own cache), checking every 500 ms until stopped.
    pub(crate) fn seat_holder(
        &self,
        license: &Path,
        fingerprint: &str,
    ) -> Result<Stream, CliError> {
        let cache = self.dir.join(format!("cache-{fingerprint}.json"));
        let extra = [
            "--count",
            "1000000",
            "--every-ms",
            "500",
            "--seat",
            "--fingerprint",
            fingerprint,
            "--seat-name",
            fingerprint,
        ]
        .map(str::to_owned);
        let mut cmd = self.check_command(&[0, 1, 2], &extra, &cache);
        cmd.arg(license);
        Self::spawn_stream(cmd)
    }

    /// A new license of the demo product with `terms` (seats, ...), written to a file; its
    /// id and the file.
    pub(crate) fn seated_license(
        &self,
        name: &str,
        terms: Value,
    ) -> Result<(String, PathBuf), CliError> {
        let mut body = json!({"product": "photo-pro", "licensee": name, "entitlements": [], "expires_at": 4_102_444_800u64});
        if let (Some(b), Some(t)) = (body.as_object_mut(), terms.as_object()) {
            b.extend(t.clone());
        }
        let license = self.admin_ok("POST", "/api/v1/licenses", Some(body))?;
        let path = self.dir.join(format!("{name}.jwt"));
        std::fs::write(
            &path,
            license.get("token").and_then(Value::as_str).unwrap_or(""),
        )
        .map_err(err)?;
        Ok((
            license
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            path,
        ))
    }

    /// The license's seats as operators see them.
    pub(crate) fn seats(&self, license_id: &str) -> Result<Value, CliError> {
        self.admin_ok("GET", &format!("/api/v1/licenses/{license_id}/seats"), None)
    }

    /// A machine's activation through validation node `i`: status and answer.
    pub(crate) fn activate(
        &self,
        i: usize,
        token: &str,
        fingerprint: &str,
    ) -> Result<(u16, Value), CliError> {
        let url = self
            .nodes
            .get(i)
            .map(|n| n.url.clone())
            .ok_or_else(|| err("no such node"))?;
        let mut r = self
            .agent
            .post(format!("{url}/api/v1/seats"))
            .send_json(json!({"token": token, "fingerprint": fingerprint}))
            .map_err(|e| err(format!("activate through {url}: {e}")))?;
        let status = r.status().as_u16();
        Ok((status, r.body_mut().read_json().unwrap_or(Value::Null)))
    }
}
