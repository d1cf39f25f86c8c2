//! Seats over HTTP. A machine's own requests (activate, heartbeat, release, borrow) carry
//! its license token and fingerprint as their credential and are answered like `validate`:
//! the license's verdict and a seat lease signed by this node, granted or refused with a
//! code. Operators list a license's seats and release one (audited).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use lifeline_api::{
    ActivateSeat, BorrowSeat, ForceReleaseSeat, LicenseSeats, Seat, SeatAnswer, SeatHolder,
    SeatStatus,
};
use lifeline_core::{
    Claims, SeatPolicy, SeatRefusal, SeatState, SeatTerms, UnixTime, Verdict, fingerprint_hash,
    seat_lease_claims,
};

use crate::AppState;
use crate::auth::Operator;
use crate::body::JsonBody;
use crate::ids::PathId;
use crate::problem::AppError;
use crate::seats::{Activated, Activation, Change, SeatChange, SeatRow, keyed_fingerprint};

/// The longest seat name.
const MAX_NAME: usize = 256;

/// Refuses a machine's seat request beyond its address's rate (the `validate` limit, checked
/// before the body is read).
pub(crate) async fn seat_rate(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let (parts, body) = request.into_parts();
    match state
        .validate_limit()
        .take(crate::limits::client_ip(&parts))
    {
        Err(wait) => crate::limits::too_many(wait, "seat requests"),
        Ok(()) => {
            next.run(axum::extract::Request::from_parts(parts, body))
                .await
        }
    }
}

/// The license a machine presents, as this node judges it now.
struct Presented {
    verdict: Verdict,
    claims: Claims,
    fph: String,
    keyed: String,
}

/// Judges the token as `validate` does (revocation and active overrides applied) and
/// hashes the fingerprint. A token that is not an authentic license is a 403 problem: there
/// is no license to sign an answer about.
async fn present(
    state: &AppState,
    token: &str,
    fingerprint: &str,
    now: u64,
) -> Result<Presented, AppError> {
    if token.len() > lifeline_core::MAX_TOKEN_BYTES + 1024 {
        return Err(AppError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "token_too_large",
            "the token is larger than 64 KiB",
        ));
    }
    if !lifeline_core::fingerprint_ok(fingerprint) {
        return Err(AppError::invalid("fingerprint must be 1 to 256 characters"));
    }
    let verdict = crate::routes::public::judge(state, token.as_bytes(), UnixTime::from_secs(now))
        .await?
        .verdict;
    let Some(claims) = verdict.claims().cloned() else {
        return Err(AppError::new(
            StatusCode::FORBIDDEN,
            "invalid_license",
            format!(
                "the token is not an authentic license ({})",
                verdict.detail().unwrap_or("it does not verify")
            ),
        ));
    };
    Ok(Presented {
        fph: fingerprint_hash(claims.jti(), fingerprint),
        keyed: keyed_fingerprint(state.seat_secret(), claims.jti(), fingerprint),
        verdict,
        claims,
    })
}

/// What an answer says of the seat.
struct Outcome {
    seat: Option<SeatRow>,
    refusal: Option<SeatRefusal>,
    in_use: u32,
    max: u32,
    seats: u32,
}

/// Signs the seat lease and writes the answer.
async fn answer(
    state: &AppState,
    request: &'static str,
    p: &Presented,
    o: Outcome,
    status: StatusCode,
    now: u64,
) -> Result<Response, AppError> {
    let result = match (o.refusal, request, status) {
        (Some(refusal), _, _) => refusal.as_str(),
        (None, "activate", StatusCode::CREATED) => "granted",
        (None, "activate", _) => "reused",
        (None, "borrow", _) => "borrowed",
        (None, _, _) => "renewed",
    };
    state.metrics().seat_request(request, result);
    if request == "activate" {
        if o.refusal == Some(SeatRefusal::SeatsExhausted) {
            state.metrics().seat_denied(p.claims.jti(), now);
        } else if status == StatusCode::CREATED {
            state.metrics().seat_activated(p.claims.sub(), now);
            state.store_figures_changed();
        }
    }
    let ring = state.keys().await?;
    let (seat_state, expires_at) = match (&o.seat, o.refusal) {
        (Some(seat), None) if seat.status == SeatStatus::Borrowed => {
            (SeatState::Borrowed, seat.borrowed_until.unwrap_or(now))
        }
        (Some(seat), None) => (SeatState::Held, now.saturating_add(seat.heartbeat_s)),
        _ => (SeatState::Refused, now),
    };
    // Never past what the license itself allows.
    let expires_at = p
        .verdict
        .usable_until()
        .map_or(expires_at, |until| expires_at.min(until.as_secs()));
    let terms = SeatTerms {
        issuer: crate::licenses::ISSUER,
        license_id: p.claims.jti(),
        seat_id: o.seat.as_ref().map(|s| s.id.as_str()),
        fingerprint_hash: &p.fph,
        state: seat_state,
        reason: o.refusal,
        now: UnixTime::from_secs(now),
        expires_at: UnixTime::from_secs(expires_at),
        seq: crate::routes::public::lease_seq(),
        in_use: o.in_use,
        max: o.max,
    };
    let lease = ring
        .active
        .sign_seat_lease(&seat_lease_claims(&terms))
        .map_err(|e| AppError::internal(format!("signing a seat lease: {e}")))?;
    // A newer version in the store: the answer carries it, as validate's does.
    let newer = state.hot().version(state.store(), p.claims.jti()).await?;
    let license = if newer > p.claims.version()
        && p.verdict.reason() != Some(lifeline_core::Reason::Revoked)
    {
        crate::routes::public::current_token(state, p.claims.jti()).await?
    } else {
        None
    };
    let body = SeatAnswer {
        license,
        verdict: serde_json::to_value(&p.verdict).unwrap_or_default(),
        seat_id: o.seat.map(|s| s.id),
        state: seat_state,
        reason: o.refusal,
        lease,
        lease_expires_at: expires_at,
        in_use: o.in_use,
        max: o.max,
        overage: seat_state != SeatState::Refused && o.in_use > o.seats,
    };
    Ok((status, Json(body)).into_response())
}

fn refused(refusal: SeatRefusal, in_use: u32, policy: Option<&SeatPolicy>) -> Outcome {
    Outcome {
        seat: None,
        refusal: Some(refusal),
        in_use,
        max: policy.map_or(0, SeatPolicy::limit),
        seats: policy.map_or(0, |p| p.seats),
    }
}

/// `POST /api/v1/seats`: the machine's seat (reused when it has one), a free one, or a
/// signed refusal.
pub(crate) async fn activate(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<ActivateSeat>,
) -> Result<Response, AppError> {
    let now = crate::clock::now();
    let name = req.name.as_deref().unwrap_or("").trim();
    if name.chars().count() > MAX_NAME {
        return Err(AppError::invalid("name must be at most 256 characters"));
    }
    let p = present(&state, &req.token, &req.fingerprint, now).await?;
    let policy = match seat_policy(&state, "activate", &p, true, now).await? {
        Ok(policy) => policy,
        Err(refusal) => return Ok(refusal),
    };
    let activation = Activation {
        license_id: p.claims.jti().to_owned(),
        fingerprint: p.keyed.clone(),
        name: name.to_owned(),
        policy,
        node: state.node_id().to_owned(),
        now,
    };
    let (seat, in_use, status) = match state.seat_writer().activate(activation).await? {
        Activated::Created(seat, n) => (seat, n, StatusCode::CREATED),
        Activated::Reused(seat, n) => (seat, n, StatusCode::OK),
        Activated::Exhausted(n) => {
            return answer(
                &state,
                "activate",
                &p,
                refused(SeatRefusal::SeatsExhausted, n, Some(&policy)),
                StatusCode::OK,
                now,
            )
            .await;
        }
    };
    let o = Outcome {
        seat: Some(seat),
        refusal: None,
        in_use,
        max: policy.limit(),
        seats: policy.seats,
    };
    answer(&state, "activate", &p, o, status, now).await
}

/// Applies a machine's change to its seat and answers with the seat's lease.
async fn machine_change(
    state: &AppState,
    id: &str,
    p: &Presented,
    policy: &SeatPolicy,
    change: Change,
    now: u64,
) -> Result<Response, AppError> {
    let jti = p.claims.jti();
    let seat_change = SeatChange {
        seat_id: id.to_owned(),
        license_id: jti.to_owned(),
        fingerprint: p.keyed.clone(),
        node: state.node_id().to_owned(),
        change,
        now,
    };
    let (seat, applied) = state
        .seat_writer()
        .change(seat_change)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no seat {id:?}")))?;
    let in_use = crate::seats::count_live(state.store(), jti, now).await?;
    let mut o = refused(SeatRefusal::SeatExpired, in_use, Some(policy));
    if seat.license_id != jti || seat.fingerprint != p.keyed {
        o.refusal = Some(SeatRefusal::FingerprintMismatch);
    } else {
        let held = matches!(seat.status, SeatStatus::Alive | SeatStatus::Borrowed);
        match (change, seat.status) {
            (Change::Release { .. }, SeatStatus::Released | SeatStatus::Reclaimed) => {
                // Released now or before: done either way.
                state.metrics().seat_request("release", "released");
                if applied {
                    state.metrics().seat_ended("released", 1);
                    state.store_figures_changed();
                }
                return Ok(StatusCode::NO_CONTENT.into_response());
            }
            (_, SeatStatus::Released) => o.refusal = Some(SeatRefusal::SeatReleased),
            (_, SeatStatus::Reclaimed) => o.refusal = Some(SeatRefusal::SeatExpired),
            _ if held => {
                o.refusal = None;
                o.seat = Some(seat);
            }
            _ => {}
        }
    }
    answer(state, change.name(), p, o, StatusCode::OK, now).await
}

/// The seat policy of a presented license; else the signed refusal to answer with: the
/// license has no seats, or (when `usable` is asked) it is not usable.
async fn seat_policy(
    state: &AppState,
    request: &'static str,
    p: &Presented,
    usable: bool,
    now: u64,
) -> Result<Result<SeatPolicy, Response>, AppError> {
    let Some(policy) = p.claims.seat_policy().copied() else {
        let o = refused(SeatRefusal::NoSeats, 0, None);
        return Ok(Err(answer(state, request, p, o, StatusCode::OK, now).await?));
    };
    if usable && !p.verdict.is_usable() {
        let in_use = crate::seats::count_live(state.store(), p.claims.jti(), now).await?;
        let o = refused(SeatRefusal::LicenseUnusable, in_use, Some(&policy));
        return Ok(Err(answer(state, request, p, o, StatusCode::OK, now).await?));
    }
    Ok(Ok(policy))
}

/// `POST /api/v1/seats/{id}/heartbeat`: renews the seat's lease.
pub(crate) async fn heartbeat(
    State(state): State<AppState>,
    PathId(id): PathId,
    JsonBody(req): JsonBody<SeatHolder>,
) -> Result<Response, AppError> {
    let now = crate::clock::now();
    let p = present(&state, &req.token, &req.fingerprint, now).await?;
    let policy = match seat_policy(&state, "heartbeat", &p, true, now).await? {
        Ok(policy) => policy,
        Err(refusal) => return Ok(refusal),
    };
    machine_change(&state, &id, &p, &policy, Change::Heartbeat, now).await
}

/// `DELETE /api/v1/seats/{id}`: the machine gives its seat back (idempotent: 204 whether it
/// was held or already ended). The seat still counts for the license's `linger_s`.
pub(crate) async fn release(
    State(state): State<AppState>,
    PathId(id): PathId,
    JsonBody(req): JsonBody<SeatHolder>,
) -> Result<Response, AppError> {
    let now = crate::clock::now();
    let p = present(&state, &req.token, &req.fingerprint, now).await?;
    let policy = match seat_policy(&state, "release", &p, false, now).await? {
        Ok(policy) => policy,
        Err(refusal) => return Ok(refusal),
    };
    let change = Change::Release {
        linger_s: policy.linger_s,
    };
    machine_change(&state, &id, &p, &policy, change, now).await
}

/// `POST /api/v1/seats/{id}/borrow`: holds the seat offline until `until` (at most the
/// license's `borrow_max_s` from now, never past the license's own end).
pub(crate) async fn borrow(
    State(state): State<AppState>,
    PathId(id): PathId,
    JsonBody(req): JsonBody<BorrowSeat>,
) -> Result<Response, AppError> {
    let now = crate::clock::now();
    if req.until <= now {
        return Err(AppError::invalid(format!(
            "until {} is not in the future (now is {now})",
            req.until
        )));
    }
    let p = present(&state, &req.token, &req.fingerprint, now).await?;
    let policy = match seat_policy(&state, "borrow", &p, true, now).await? {
        Ok(policy) => policy,
        Err(refusal) => return Ok(refusal),
    };
    let in_use = crate::seats::count_live(state.store(), p.claims.jti(), now).await?;
    let too_long = req.until > now.saturating_add(policy.borrow_max_s)
        || p.verdict
            .usable_until()
            .is_some_and(|u| req.until > u.as_secs());
    if policy.borrow_max_s == 0 || too_long {
        return answer(
            &state,
            "borrow",
            &p,
            refused(SeatRefusal::BorrowNotAllowed, in_use, Some(&policy)),
            StatusCode::OK,
            now,
        )
        .await;
    }
    machine_change(
        &state,
        &id,
        &p,
        &policy,
        Change::Borrow { until: req.until },
        now,
    )
    .await
}

/// `GET /api/v1/licenses/{id}/seats` (operator): the license's seats and its policy.
pub(crate) async fn list(
    State(state): State<AppState>,
    Operator(_caller): Operator,
    PathId(id): PathId,
) -> Result<Json<LicenseSeats>, AppError> {
    let now = crate::clock::now();
    let license = crate::licenses::get(state.store(), &id, now)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no license {id:?}")))?;
    let policy = lifeline_core::inspect(license.token.as_bytes())
        .ok()
        .and_then(|i| Claims::from_map(i.claims).ok())
        .and_then(|c| c.seat_policy().copied());
    let rows = crate::seats::for_license(state.store(), &id, 1000).await?;
    let in_use = u32::try_from(rows.iter().filter(|s| s.is_live(now)).count()).unwrap_or(u32::MAX);
    Ok(Json(LicenseSeats {
        license_id: id,
        seats: policy.map(|p| p.seats),
        mode: policy.map(|p| p.mode),
        max: policy.map(|p| p.limit()),
        in_use,
        items: rows.iter().map(SeatRow::to_api).collect(),
    }))
}

/// `POST /api/v1/seats/{id}/revoke` (operator): ends a held seat on the machine's behalf,
/// with a reason (audited); an already ended seat is a conflict.
pub(crate) async fn revoke(
    State(state): State<AppState>,
    Operator(caller): Operator,
    PathId(id): PathId,
    JsonBody(req): JsonBody<ForceReleaseSeat>,
) -> Result<Json<Seat>, AppError> {
    let reason = req.reason.trim();
    if reason.is_empty() || reason.chars().count() > 1024 {
        return Err(AppError::invalid("reason must be 1 to 1024 characters"));
    }
    let now = crate::clock::now();
    match crate::seats::force_release(state.store(), &id, &caller.actor(), reason, now).await? {
        None => Err(AppError::not_found(format!("no seat {id:?}"))),
        Some((seat, true)) => {
            state.metrics().seat_ended("admin", 1);
            state.store_figures_changed();
            Ok(Json(seat.to_api()))
        }
        Some((seat, false)) => Err(AppError::conflict(format!(
            "seat {} already ended ({:?})",
            seat.id, seat.status
        ))),
    }
}
