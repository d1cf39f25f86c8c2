//! Reading typed members of a JWS payload (licenses, leases, seat leases, overrides): each
//! wrong or missing member is a `malformed` error naming the claim.

use serde_json::{Map, Value};

use crate::UnixTime;
use crate::error::{ClaimProblem, Malformed, VerifyError};

pub(crate) fn missing(claim: &'static str) -> VerifyError {
    Malformed::Claim {
        claim,
        problem: ClaimProblem::Missing,
    }
    .into()
}

pub(crate) fn wrong(claim: &'static str, expected: &'static str) -> VerifyError {
    Malformed::Claim {
        claim,
        problem: ClaimProblem::WrongType { expected },
    }
    .into()
}

pub(crate) fn string(raw: &Map<String, Value>, claim: &'static str) -> Result<String, VerifyError> {
    match raw.get(claim) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(_) => Err(wrong(claim, "a non-empty string")),
        None => Err(missing(claim)),
    }
}

pub(crate) fn time(
    raw: &Map<String, Value>,
    claim: &'static str,
) -> Result<Option<UnixTime>, VerifyError> {
    match raw.get(claim) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(|s| Some(UnixTime::from_secs(s)))
            .ok_or_else(|| wrong(claim, "a non-negative integer (unix seconds)")),
        Some(_) => Err(wrong(claim, "a non-negative integer (unix seconds)")),
    }
}
