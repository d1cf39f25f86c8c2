use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{Malformed, Segment, VerifyError};
use crate::jws;

/// A token's header and claims decoded **without any verification**, for people debugging a
/// license. Nothing in it may be trusted.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Inspection {
    /// Always `false`: a reminder for anyone reading the JSON.
    pub verified: bool,
    /// The protected header as sent.
    pub header: Map<String, Value>,
    /// The payload as sent.
    pub claims: Map<String, Value>,
    /// Whether the signature segment has the 64 bytes an Ed25519 signature needs.
    pub signature_bytes: usize,
}

/// Decodes a token for display. Checks only what decoding needs: three base64url
/// segments, each JSON part a strict object, the size limit. Verifies nothing.
pub fn inspect(token: &[u8]) -> Result<Inspection, VerifyError> {
    let token = jws::trim(token);
    if token.is_empty() {
        return Err(Malformed::Empty.into());
    }
    if token.len() > jws::MAX_TOKEN_BYTES {
        return Err(Malformed::TooLarge {
            len: token.len(),
            limit: crate::MAX_TOKEN_BYTES,
        }
        .into());
    }
    let parts: Vec<&[u8]> = token.split(|&b| b == b'.').collect();
    let [h64, p64, s64] = parts.as_slice() else {
        return Err(Malformed::SegmentCount { found: parts.len() }.into());
    };
    let decode = |segment: &[u8], which| {
        jws::decode_member(core::str::from_utf8(segment).unwrap_or("!"))
            .ok_or(VerifyError::Malformed(Malformed::Base64 { segment: which }))
    };
    let header = jws::parse_header_object(&decode(h64, Segment::Header)?)?;
    let claims = crate::json::parse_object(&decode(p64, Segment::Payload)?).map_err(|detail| {
        Malformed::Json {
            segment: Segment::Payload,
            detail,
        }
    })?;
    let signature_bytes = decode(s64, Segment::Signature)?.len();
    Ok(Inspection {
        verified: false,
        header,
        claims,
        signature_bytes,
    })
}
