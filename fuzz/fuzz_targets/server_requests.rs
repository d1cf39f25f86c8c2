//! The license server's request decoders: the JSON body of every POST route decoded as the
//! route's `JsonBody<T>` does (serde_json into the lifeline-api type), then the server's own
//! check for that body (`lifeline_server::checks`) where it has one. First byte: which type.
//!
//! Invariants: never panics; every refusal by a check is a 4xx problem with a code.
#![no_main]

use axum::response::IntoResponse as _;
use libfuzzer_sys::fuzz_target;
use lifeline_api::{
    BulkIssue, CreateApiToken, CreateOverride, CreateProduct, CreateWebhook, ExtendLicense,
    IncidentNote, IssueLicense, RevokeLicense, RevokeOverride, TelemetryReport, ValidateRequest,
};
use lifeline_server::{AppError, checks};
use lifeline_tests::fuzzkit::NOW;
use serde::de::DeserializeOwned;

static KEYS: std::sync::LazyLock<lifeline_core::KeySet> =
    std::sync::LazyLock::new(lifeline_tests::fuzzkit::key_set);

fn decode<T: DeserializeOwned>(body: &[u8]) -> Option<T> {
    serde_json::from_slice(body).ok()
}

fn refused(result: Result<(), AppError>) {
    if let Err(e) = result {
        assert!(!e.code().is_empty());
        let status = e.into_response().status();
        assert!(status.is_client_error(), "a check answered {status}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    match which % 12 {
        0 => {
            if let Some(r) = decode::<IssueLicense>(body) {
                refused(checks::issue_license(&r, NOW));
            }
        }
        1 => {
            if let Some(r) = decode::<BulkIssue>(body) {
                for l in &r.licenses {
                    refused(checks::issue_license(l, NOW));
                }
            }
        }
        2 => {
            if let Some(r) = decode::<CreateOverride>(body) {
                refused(checks::create_override(&r, NOW));
            }
        }
        3 => {
            if let Some(r) = decode::<TelemetryReport>(body) {
                refused(checks::telemetry_report(&r, NOW));
            }
        }
        4 => {
            if let Some(r) = decode::<CreateWebhook>(body) {
                refused(checks::webhook_url(&r.url));
            }
        }
        5 => {
            if let Some(r) = decode::<ValidateRequest>(body) {
                let _ = lifeline_core::verify(
                    r.token.as_bytes(),
                    &KEYS,
                    &lifeline_core::Policy::new(),
                    lifeline_core::UnixTime::from_secs(NOW),
                );
            }
        }
        6 => drop(decode::<CreateProduct>(body)),
        7 => drop(decode::<CreateApiToken>(body)),
        8 => drop(decode::<RevokeLicense>(body)),
        9 => drop(decode::<ExtendLicense>(body)),
        10 => drop(decode::<IncidentNote>(body)),
        _ => drop(decode::<RevokeOverride>(body)),
    }
});
