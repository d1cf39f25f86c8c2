//! The verdict an edge verifier would give, computed in this browser by `lifeline-core`
//! from the token and the public key set, with the claims it authenticated.

use leptos::prelude::*;
use lifeline_core::{KeySet, Policy, UnixTime, Verdict, verify};

use super::badge::StateBadge;
use super::status::Notice;
use crate::format;

/// Verifies `token` against the JWKS text `jwks` at `now`, for `audience` when given.
pub fn edge_verdict(
    token: &str,
    jwks: &str,
    audience: Option<&str>,
    now: u64,
) -> Result<Verdict, String> {
    let keys = KeySet::from_jwks_json(jwks.as_bytes())
        .map_err(|e| format!("the public key set could not be loaded: {e}"))?;
    let mut policy = Policy::new();
    if let Some(aud) = audience {
        policy = policy.with_audience(aud);
    }
    Ok(verify(
        token.as_bytes(),
        &keys,
        &policy,
        UnixTime::from_secs(now),
    ))
}

/// How long verifiers may keep a status list (the server's `ttl`): a revocation reaches the
/// verifiers that read it within this time.
pub const STATUS_LIST_TTL_SECS: u64 = 300;

/// What to tell people when the server's state of a license and the verdict of a verifier
/// without network differ; `None` when they agree.
pub fn disagreement(
    server: lifeline_api::LicenseState,
    revoked_at: Option<u64>,
    offline: &Verdict,
    now: u64,
) -> Option<String> {
    use lifeline_api::LicenseState;
    let usable = offline.is_usable();
    match server {
        LicenseState::Revoked if usable => Some(format!(
            "Revoked on the server{}; verifiers that read the status list refuse it within {}, \
             but a verifier that checks the token alone still accepts it{}.",
            revoked_at
                .map(|t| format!(" {}", format::relative(t, now)))
                .unwrap_or_default(),
            format::duration(STATUS_LIST_TTL_SECS),
            offline
                .expires_at()
                .map(|t| format!(" until it expires ({})", format::when(t.as_secs(), now)))
                .unwrap_or_default(),
        )),
        LicenseState::Valid | LicenseState::Grace if !usable => Some(format!(
            "The server counts it {}, but a verifier without network refuses it: {}.",
            format::license_state(server),
            offline.reason().map_or("invalid", |r| r.as_str()),
        )),
        LicenseState::Expired if usable => Some(
            "The server counts it expired; a verifier without network still accepts it \
             (its clock, or a grace period the server does not count)."
                .to_owned(),
        ),
        _ => None,
    }
}

/// The verdict with its reason, and the authenticated claims.
#[component]
pub fn VerdictView(
    #[prop(into)] token: String,
    #[prop(into)] jwks: String,
    #[prop(optional, into)] audience: Option<String>,
    now: u64,
) -> impl IntoView {
    let verdict = match edge_verdict(&token, &jwks, audience.as_deref(), now) {
        Ok(v) => v,
        Err(e) => return view! { <Notice kind="error" text=e/> }.into_any(),
    };
    let reason = verdict.reason().map(|r| {
        let detail = verdict
            .detail()
            .map(|d| format!(": {}", format::readable_times(d)))
            .unwrap_or_default();
        view! { <p class="reason">"Reason: " <code data-testid="reason">{r.as_str()}</code>{detail}</p> }
    });
    let when =
        |t: Option<UnixTime>| t.map_or_else(|| "–".to_owned(), |t| format::when(t.as_secs(), now));
    let mut rows = vec![
        (
            "Signing key".to_owned(),
            verdict.kid().unwrap_or("–").to_owned(),
        ),
        ("Expires".to_owned(), when(verdict.expires_at())),
        ("Grace until".to_owned(), when(verdict.grace_until())),
    ];
    if let Some(claims) = verdict.claims() {
        rows.extend([
            ("Issuer (iss)".to_owned(), claims.iss().to_owned()),
            ("Licensee (sub)".to_owned(), claims.sub().to_owned()),
            ("Product (aud)".to_owned(), claims.aud().join(", ")),
            ("License id (jti)".to_owned(), claims.jti().to_owned()),
            (
                "Issued (iat)".to_owned(),
                format::date_time(claims.iat().as_secs()),
            ),
            (
                "Not before (nbf)".to_owned(),
                format::date_time(claims.nbf().as_secs()),
            ),
            ("Entitlements".to_owned(), claims.entitlements().join(", ")),
            (
                "Seats".to_owned(),
                claims
                    .seats()
                    .map_or_else(|| "unlimited".to_owned(), |s| s.to_string()),
            ),
            ("Grace period".to_owned(), format::grace(claims.grace_s())),
            (
                "Offline grace".to_owned(),
                match claims.offline_grace_s() {
                    Some(0) => "none: fails closed when no node answers".to_owned(),
                    Some(s) => format::duration(s),
                    None => "the client's default".to_owned(),
                },
            ),
        ]);
    }
    let state = verdict.state().as_str();
    view! {
        <div class="verdict" data-testid="edge-verdict" data-state=state>
            <p>"What a verifier without network decides from the token alone (" <code>"lifeline-core"</code> ", in this browser): " <StateBadge state=state/></p>
            {reason}
            <dl class="claims">
                {rows
                    .into_iter()
                    .map(|(k, v)| view! { <dt>{k}</dt><dd>{v}</dd> })
                    .collect_view()}
            </dl>
        </div>
    }
    .into_any()
}
