//! JWS compact serialization (RFC 7515 §7.1): splitting, base64url and the protected header.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{Malformed, Segment, VerifyError};
use crate::json;

/// Tokens larger than this (after trimming surrounding whitespace) are refused unparsed.
pub const MAX_TOKEN_BYTES: usize = 64 * 1024;

/// The `typ` of a license token (explicit typing, RFC 8725 §3.11).
pub const LICENSE_TYP: &str = "lifeline-license+jwt";

/// The `alg` values accepted: `EdDSA` (RFC 8037) and the fully specified `Ed25519`
/// (RFC 9864). Exact case. Either way the key decides the algorithm: every key is Ed25519.
const ACCEPTED_ALGS: [&str; 2] = ["EdDSA", "Ed25519"];

/// The protected header of a token, as parsed (not yet authenticated).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Header {
    /// `alg`: `EdDSA` or `Ed25519`.
    pub alg: String,
    /// `typ`, compared case-insensitively with an optional `application/` prefix.
    pub typ: String,
    /// `kid`: names the signing key in the key set.
    pub kid: String,
}

/// A token split into its parts. Nothing in it is authenticated yet.
#[derive(Debug)]
pub(crate) struct CompactJws<'a> {
    pub(crate) header: Header,
    /// The whole token, surrounding whitespace removed.
    pub(crate) token: &'a [u8],
    /// `BASE64URL(header) || '.' || BASE64URL(payload)`: the bytes the signature covers.
    pub(crate) signing_input: &'a [u8],
    pub(crate) payload: Vec<u8>,
    pub(crate) signature: [u8; 64],
}

/// Removes ASCII whitespace around a token (a trailing newline in a file, say).
pub(crate) fn trim(bytes: &[u8]) -> &[u8] {
    bytes.trim_ascii()
}

/// Splits, decodes and checks a compact JWS whose header must have the given `typ`.
pub(crate) fn parse<'a>(
    token: &'a [u8],
    expected_typ: &'static str,
) -> Result<CompactJws<'a>, VerifyError> {
    parse_up_to(token, expected_typ, MAX_TOKEN_BYTES)
}

/// [`parse`] with another size limit (issued lists run to megabytes).
pub(crate) fn parse_up_to<'a>(
    token: &'a [u8],
    expected_typ: &'static str,
    max_bytes: usize,
) -> Result<CompactJws<'a>, VerifyError> {
    let token = trim(token);
    if token.is_empty() {
        return Err(Malformed::Empty.into());
    }
    if token.len() > max_bytes {
        return Err(Malformed::TooLarge {
            len: token.len(),
            limit: max_bytes,
        }
        .into());
    }
    let mut parts = token.split(|&b| b == b'.');
    let (Some(h64), Some(p64), Some(s64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        let found = token.iter().filter(|&&b| b == b'.').count() + 1;
        return Err(Malformed::SegmentCount { found }.into());
    };
    let header_bytes = decode(h64, Segment::Header)?;
    let payload = decode(p64, Segment::Payload)?;
    let signature_bytes = decode(s64, Segment::Signature)?;

    let header = parse_header(&header_bytes, expected_typ)?;
    let signature: [u8; 64] =
        signature_bytes
            .as_slice()
            .try_into()
            .map_err(|_| Malformed::SignatureLength {
                len: signature_bytes.len(),
            })?;
    // h64.len() + 1 + p64.len() <= token.len(), so `get` always succeeds.
    let signing_input = token
        .get(..h64.len() + 1 + p64.len())
        .ok_or(Malformed::SegmentCount { found: 3 })?;
    Ok(CompactJws {
        header,
        token,
        signing_input,
        payload,
        signature,
    })
}

/// Strict unpadded base64url: no `=`, no whitespace, no non-zero trailing bits, so every
/// token has exactly one encoding.
fn decode(segment: &[u8], which: Segment) -> Result<Vec<u8>, VerifyError> {
    URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| Malformed::Base64 { segment: which }.into())
}

/// Base64url without padding, as JWS uses it.
pub(crate) fn encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub(crate) fn decode_member(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// Parses the protected header as strict JSON and checks it, in a fixed order:
/// forbidden members, `alg`, `typ`, `kid`.
pub(crate) fn parse_header_object(bytes: &[u8]) -> Result<Map<String, Value>, VerifyError> {
    json::parse_object(bytes).map_err(|detail| {
        Malformed::Json {
            segment: Segment::Header,
            detail,
        }
        .into()
    })
}

fn parse_header(bytes: &[u8], expected_typ: &'static str) -> Result<Header, VerifyError> {
    let map = parse_header_object(bytes)?;
    if map.contains_key("crit") {
        return Err(header_error(
            "must not carry \"crit\": no extensions are understood",
        ));
    }
    if map.contains_key("b64") {
        return Err(header_error(
            "must not carry \"b64\" (RFC 7797 unencoded payloads are refused)",
        ));
    }
    let alg = match map.get("alg") {
        Some(Value::String(alg)) => alg,
        Some(_) => return Err(header_error("\"alg\" must be a string")),
        None => return Err(header_error("has no \"alg\"")),
    };
    if !ACCEPTED_ALGS.contains(&alg.as_str()) {
        return Err(VerifyError::UnsupportedAlg { alg: alg.clone() });
    }
    let typ = match map.get("typ") {
        Some(Value::String(typ)) if typ_matches(typ, expected_typ) => typ,
        Some(Value::String(typ)) => {
            return Err(VerifyError::WrongType {
                typ: Some(typ.clone()),
                expected: expected_typ,
            });
        }
        Some(_) => return Err(header_error("\"typ\" must be a string")),
        None => {
            return Err(VerifyError::WrongType {
                typ: None,
                expected: expected_typ,
            });
        }
    };
    let kid = match map.get("kid") {
        Some(Value::String(kid)) if !kid.is_empty() => kid,
        Some(_) => return Err(header_error("\"kid\" must be a non-empty string")),
        None => return Err(header_error("has no \"kid\": it must name the signing key")),
    };
    Ok(Header {
        alg: alg.clone(),
        typ: typ.clone(),
        kid: kid.clone(),
    })
}

/// RFC 7515 §4.1.9: media types compare case-insensitively and `application/` may be left out.
fn typ_matches(typ: &str, expected: &str) -> bool {
    let bare = match typ.get(..12) {
        Some(prefix) if prefix.eq_ignore_ascii_case("application/") => typ.get(12..).unwrap_or(""),
        _ => typ,
    };
    bare.eq_ignore_ascii_case(expected)
}

fn header_error(detail: &'static str) -> VerifyError {
    Malformed::Header { detail }.into()
}

impl From<Malformed> for VerifyError {
    fn from(m: Malformed) -> Self {
        Self::Malformed(m)
    }
}

/// A compact JWS of type `typ`, authenticated: the key its `kid` named checked the signature
/// (`verify_strict`), and the payload is a strict JSON object. Overrides, bundles and leases
/// start here; key status (revoked, window, purpose) is the caller's next check.
pub(crate) struct Authenticated<'k> {
    pub(crate) kid: String,
    pub(crate) key: &'k crate::PublicKey,
    pub(crate) payload: Map<String, Value>,
}

/// Parses `token` as a JWS of type `typ` and authenticates it with `keys`.
pub(crate) fn authenticate<'k>(
    token: &[u8],
    typ: &'static str,
    keys: &'k crate::KeySet,
) -> Result<Authenticated<'k>, VerifyError> {
    authenticate_up_to(token, typ, keys, MAX_TOKEN_BYTES)
}

/// [`authenticate`] with another size limit.
pub(crate) fn authenticate_up_to<'k>(
    token: &[u8],
    typ: &'static str,
    keys: &'k crate::KeySet,
    max_bytes: usize,
) -> Result<Authenticated<'k>, VerifyError> {
    let jws = parse_up_to(token, typ, max_bytes)?;
    let kid = jws.header.kid;
    let key = keys
        .get(&kid)
        .ok_or_else(|| VerifyError::UnknownKey { kid: kid.clone() })?;
    if !key.verify_strict(jws.signing_input, &jws.signature) {
        return Err(VerifyError::BadSignature);
    }
    let payload = json::parse_object(&jws.payload).map_err(|detail| Malformed::Json {
        segment: Segment::Payload,
        detail,
    })?;
    Ok(Authenticated { kid, key, payload })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typ_comparison_follows_rfc_7515() {
        assert!(typ_matches("lifeline-license+jwt", LICENSE_TYP));
        assert!(typ_matches("Lifeline-License+JWT", LICENSE_TYP));
        assert!(typ_matches("application/lifeline-license+jwt", LICENSE_TYP));
        assert!(!typ_matches("JWT", LICENSE_TYP));
        assert!(!typ_matches("lifeline-lease+jwt", LICENSE_TYP));
        assert!(!typ_matches("application/", LICENSE_TYP));
        assert!(!typ_matches("", LICENSE_TYP));
    }

    #[test]
    fn segment_count_is_reported() {
        for (token, found) in [("a", 1), ("a.b", 2), ("a.b.c.d", 4), ("....", 5)] {
            let err = parse(token.as_bytes(), LICENSE_TYP).unwrap_err();
            assert_eq!(
                err,
                VerifyError::Malformed(Malformed::SegmentCount { found })
            );
        }
    }

    #[test]
    fn padding_and_whitespace_inside_are_refused() {
        let header = encode(br#"{"alg":"EdDSA","typ":"lifeline-license+jwt","kid":"k"}"#);
        let sig = encode(&[0u8; 64]);
        let padded = format!("{header}=.e30.{sig}");
        assert!(matches!(
            parse(padded.as_bytes(), LICENSE_TYP),
            Err(VerifyError::Malformed(Malformed::Base64 {
                segment: Segment::Header
            }))
        ));
        let spaced = format!("{header}.e3 0.{sig}");
        assert!(matches!(
            parse(spaced.as_bytes(), LICENSE_TYP),
            Err(VerifyError::Malformed(Malformed::Base64 {
                segment: Segment::Payload
            }))
        ));
        let fine = format!("\n {header}.e30.{sig}\r\n");
        assert!(parse(fine.as_bytes(), LICENSE_TYP).is_ok());
    }

    #[test]
    fn non_canonical_trailing_bits_are_refused() {
        // "e30" is "{}"; "e31" decodes to the same bytes with non-zero trailing bits.
        assert!(decode(b"e30", Segment::Payload).is_ok());
        assert!(decode(b"e31", Segment::Payload).is_err());
    }
}
