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
