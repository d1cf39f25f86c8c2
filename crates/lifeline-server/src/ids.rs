//! Identifiers the server makes (licenses, tokens, overrides, incidents, webhooks, nodes).

use crate::store::StoreError;

/// A new license or token id: a UUID version 7.
pub fn new_id() -> Result<String, StoreError> {
    // UUID version 7 (RFC 9562): a millisecond timestamp first, so new ids sort after old ones
    // and index inserts append instead of landing at random pages (bulk issuing is faster).
    let mut b = [0u8; 16];
    getrandom::fill(&mut b)?;
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let ms = u64::try_from(ms).unwrap_or(u64::MAX).to_be_bytes();
    if let (Some(dst), Some(src)) = (b.get_mut(..6), ms.get(2..)) {
        dst.copy_from_slice(src);
    }
    b[6] = (b[6] & 0x0f) | 0x70;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    let part = |a: usize, z: usize| h.get(a..z).unwrap_or_default();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        part(0, 8),
        part(8, 12),
        part(12, 16),
        part(16, 20),
        part(20, 32)
    ))
}

/// The longest id in a path the server accepts: longer than any it makes (a UUID is 36
/// characters, a key id ~20) and short enough to echo in an error.
pub(crate) const MAX_PATH_ID: usize = 64;

/// The `{id}` of a route's path, refused with a 400 problem (never echoed whole) when it is
/// longer than [`MAX_PATH_ID`] or has a character no id has, before any store lookup.
#[derive(Clone, Debug)]
pub(crate) struct PathId(pub(crate) String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for PathId {
    type Rejection = crate::problem::AppError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(id) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| {
                    crate::problem::AppError::new(
                        axum::http::StatusCode::BAD_REQUEST,
                        "invalid_id",
                        "the id in the path is not valid UTF-8 text",
                    )
                })?;
        check_path_id(&id)?;
        Ok(Self(id))
    }
}

/// Whether `id` could be an id: 1 to [`MAX_PATH_ID`] bytes of letters, digits, `-`, `_`, `.`.
pub(crate) fn check_path_id(id: &str) -> Result<(), crate::problem::AppError> {
    let refuse = |why: String| {
        crate::problem::AppError::new(axum::http::StatusCode::BAD_REQUEST, "invalid_id", why)
    };
    if id.is_empty() || id.len() > MAX_PATH_ID {
        return Err(refuse(format!(
            "the id in the path is {} bytes long; ids are 1 to {MAX_PATH_ID}",
            id.len()
        )));
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(refuse(
            "the id in the path has a character no id has (ids are letters, digits, '-', '_' and '.')"
                .to_owned(),
        ));
    }
    Ok(())
}
