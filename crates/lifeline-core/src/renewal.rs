//! Licenses that refresh themselves: when a validation node holds a newer version of the
//! license a client presented (extended, re-signed after a key compromise), its answer
//! carries that token. The client replaces its license with it only after checking it like
//! any license, and only when it is the same license, newer:
//!
//! ```text
//! candidate ──authenticate(keys)──▶ same signature rules as any license (unknown key,
//!   │                               bad signature, malformed → Unauthentic)
//!   ├─ jti and sub equal to the held license's?      else OtherLicense
//!   ├─ ver higher than the held license's?           else NotNewer (no downgrade, no replay)
//!   └─ evaluate(keys, policy, now): usable, or expired by its own dates; a key or audience
//!      refusal (key revoked, compromised, expired; another product) → Refused
//! ```
//!
//! A refused candidate changes nothing: the client keeps the license it holds.

use core::fmt;

use crate::{Claims, KeySet, Policy, Reason, UnixTime, UnverifiedLicense, Verdict, VerifyError};

/// Why a license an answer carried does not replace the one held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RenewalProblem {
    /// It does not authenticate (signature, key, claims).
    Unauthentic(VerifyError),
    /// It is another license (`jti`) or another licensee's (`sub`).
    OtherLicense {
        /// The held license's id and licensee.
        held: (String, String),
        /// The candidate's.
        found: (String, String),
    },
    /// Its version is not higher than the held one's: an older or the same license.
    NotNewer {
        /// The candidate's `ver`.
        version: u64,
        /// The held license's `ver`.
        held: u64,
    },
    /// It authenticates but would be refused for a reason its dates do not explain.
    Refused(Reason),
}

impl fmt::Display for RenewalProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unauthentic(e) => write!(f, "the renewed license does not verify: {e}"),
            Self::OtherLicense { held, found } => write!(
                f,
                "the renewed license is {:?} of {:?}, not {:?} of {:?}",
                found.0, found.1, held.0, held.1
            ),
            Self::NotNewer { version, held } => write!(
                f,
                "the renewed license has version {version}, not newer than the held version {held}"
            ),
            Self::Refused(reason) => {
                write!(f, "the renewed license would be refused ({reason})")
            }
        }
    }
}

/// The verdict on `candidate` as the replacement of the license whose claims are `held`, at
/// `now`; `Err` when it must not replace it (see the module docs).
pub fn renewal(
    held: &Claims,
    candidate: &[u8],
    keys: &KeySet,
    policy: &Policy,
    now: UnixTime,
) -> Result<Verdict, RenewalProblem> {
    let signed = UnverifiedLicense::parse(candidate)
        .and_then(|t| t.authenticate(keys))
        .map_err(RenewalProblem::Unauthentic)?;
    let claims = signed.claims();
    if claims.jti() != held.jti() || claims.sub() != held.sub() {
        return Err(RenewalProblem::OtherLicense {
            held: (held.jti().to_owned(), held.sub().to_owned()),
            found: (claims.jti().to_owned(), claims.sub().to_owned()),
        });
    }
    if claims.version() <= held.version() {
        return Err(RenewalProblem::NotNewer {
            version: claims.version(),
            held: held.version(),
        });
    }
    let verdict = signed.into_verdict(keys, policy, now);
    match verdict.reason() {
        None | Some(Reason::GracePeriod | Reason::Expired) => Ok(verdict),
        Some(reason) => Err(RenewalProblem::Refused(reason)),
    }
}

#[cfg(test)]
#[path = "renewal_tests.rs"]
mod tests;
