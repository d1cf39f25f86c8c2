//! The bounds every path applies to the same inputs (issuing one license or in bulk,
//! extending, API tokens), so a value one route refuses is never signed by another. The
//! server refuses a value out of bounds with a 422 problem `invalid_field` naming the field;
//! the console and the CLI may check the same before sending.

use std::fmt;

/// The latest expiry a license (issued or extended) or an API token may have: 100 years
/// ahead (a "perpetual" license is an expiry in the far future, such as 2100).
pub const MAX_EXPIRY_AHEAD_SECS: u64 = 100 * 365 * 86_400;

/// The longest grace period after a license's expiry: a year.
pub const MAX_GRACE_SECS: u64 = 365 * 86_400;

/// The longest name or licensee, in characters.
pub const MAX_NAME_CHARS: usize = 256;

/// A field out of its bounds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// The field, as named in the request body.
    pub field: &'static str,
    /// What it must be.
    pub problem: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.problem)
    }
}

impl std::error::Error for FieldError {}

fn refuse(field: &'static str, problem: impl Into<String>) -> Result<(), FieldError> {
    Err(FieldError {
        field,
        problem: problem.into(),
    })
}

/// Text people read (a licensee, a name): 1 to `max_chars` characters, not only spaces,
/// no control characters (a NUL or an escape sequence would reach logs and terminals).
pub fn check_text(field: &'static str, value: &str, max_chars: usize) -> Result<(), FieldError> {
    if value.trim().is_empty() || value.chars().count() > max_chars {
        return refuse(field, format!("must be 1 to {max_chars} characters"));
    }
    if value.chars().any(char::is_control) {
        return refuse(
            field,
            "must not contain control characters (NUL, tab, newline, …)",
        );
    }
    Ok(())
}

/// An expiry: after `now` and at most [`MAX_EXPIRY_AHEAD_SECS`] ahead.
pub fn check_expiry(field: &'static str, at: u64, now: u64) -> Result<(), FieldError> {
    if at <= now {
        return refuse(field, format!("{at} is not in the future (now is {now})"));
    }
    let latest = now.saturating_add(MAX_EXPIRY_AHEAD_SECS);
    if at > latest {
        return refuse(
            field,
            format!("{at} is more than 100 years ahead (at most {latest})"),
        );
    }
    Ok(())
}

/// A duration in seconds of at most `max`.
pub fn check_secs(field: &'static str, secs: u64, max: u64) -> Result<(), FieldError> {
    if secs > max {
        return refuse(field, format!("{secs} is more than {max} seconds"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_expiry_and_durations_are_bounded() {
        assert!(check_text("licensee", "Acme Corp", 256).is_ok());
        for bad in ["", "   ", "a\0b", "line\nbreak", "esc\u{1b}[31m"] {
            assert_eq!(
                check_text("licensee", bad, 256).unwrap_err().field,
                "licensee"
            );
        }
        assert!(check_text("licensee", &"é".repeat(256), 256).is_ok());
        assert!(check_text("licensee", &"é".repeat(257), 256).is_err());
        let now = 1_800_000_000;
        assert!(check_expiry("expires_at", now + 1, now).is_ok());
        assert!(check_expiry("expires_at", 4_102_444_800, now).is_ok());
        assert!(check_expiry("expires_at", now + MAX_EXPIRY_AHEAD_SECS, now).is_ok());
        for bad in [now, now - 1, now + MAX_EXPIRY_AHEAD_SECS + 1, u64::MAX] {
            let e = check_expiry("expires_at", bad, now).unwrap_err();
            assert_eq!(e.field, "expires_at");
            assert!(e.to_string().starts_with("expires_at: "), "{e}");
        }
        assert!(check_secs("grace_s", MAX_GRACE_SECS, MAX_GRACE_SECS).is_ok());
        assert!(check_secs("grace_s", u64::MAX, MAX_GRACE_SECS).is_err());
    }
}
