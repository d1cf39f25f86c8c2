//! Fuzz kit: the fixed keys, time and input decoders shared by the fuzz targets (`fuzz/`)
//! and the native side of the native/WASM differential check (`bin/fuzz-verdicts`).
//!
//! Everything here is deterministic and never panics on any input: a panic must mean a bug
//! in the code under test, never in the harness.

use lifeline_core::{KeySet, LicenseSigner, PublicKey, UnixTime};
use serde_json::{Map, Value, json};

/// The time every fuzz target verifies at (the license vectors' time).
pub const NOW: u64 = crate::NOW;

/// Key ids of the fuzz signers, by index: `k1`, `k2` (plain), `kw` (signing window closed
/// before `NOW`), `kr` (revoked), `ko` (overrides only), `kx` (not in the key set).
pub const SIGNER_KIDS: [&str; 6] = ["k1", "k2", "kw", "kr", "ko", "kx"];

/// The fuzz signers (fixed seeds; `k1` and `k2` are the license vectors' keys), made once:
/// deriving a public key per fuzz input would dominate the run time.
pub fn signers() -> &'static [LicenseSigner] {
    static SIGNERS: std::sync::LazyLock<Vec<LicenseSigner>> = std::sync::LazyLock::new(|| {
        SIGNER_KIDS
            .iter()
            .zip([1u8, 2, 4, 3, 5, 9])
            .map(|(kid, seed)| LicenseSigner::from_seed(*kid, &[seed; 32]))
            .collect()
    });
    &SIGNERS
}

/// The fixed key set of the fuzz targets: every signer but `kx`, each with its status.
pub fn key_set() -> KeySet {
    let mut keys: Vec<PublicKey> = Vec::new();
    for signer in signers() {
        let Ok(key) = signer.public_key() else {
            continue;
        };
        let key = match signer.kid() {
            "kw" => match key.with_window(
                Some(UnixTime::from_secs(NOW - 10 * 86_400)),
                Some(UnixTime::from_secs(NOW - 2 * 86_400)),
            ) {
                Ok(k) => k,
                Err(_) => continue,
            },
            "kr" => key.revoked(),
            "ko" => key.for_overrides_only(),
            "kx" => continue,
            _ => key,
        };
        keys.push(key);
    }
    KeySet::from_keys(keys).unwrap_or_default()
}

/// The claims of the structured target's starting license (valid at `NOW`).
pub fn base_claims() -> Map<String, Value> {
    let claims = json!({
        "iss": "lifeline-fuzz",
        "sub": "customer-42",
        "aud": "photo-pro",
        "jti": "lic-fuzz",
        "iat": NOW - 86_400,
        "exp": NOW + 30 * 86_400,
        "grace_s": 7 * 86_400,
        "entitlements": ["export", "raw"],
        "seats": 5,
    });
    claims.as_object().cloned().unwrap_or_default()
}

/// A cursor over fuzzer bytes: reads past the end give zeros / `None`.
#[derive(Debug)]
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    /// Reads `data` from its start.
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    /// The next byte, `None` at the end.
    pub fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.data.split_first()?;
        self.data = rest;
        Some(b)
    }

    /// The next byte, 0 at the end.
    pub fn b(&mut self) -> u8 {
        self.byte().unwrap_or(0)
    }

    /// A little-endian integer of `n` bytes (at most 8).
    pub fn uint(&mut self, n: usize) -> u64 {
        (0..n.min(8)).fold(0, |acc, i| acc | (u64::from(self.b()) << (8 * i)))
    }

    /// A length byte, then up to that many bytes (at most `max`).
    pub fn bytes(&mut self, max: usize) -> &'a [u8] {
        let n = usize::from(self.b()).min(max).min(self.data.len());
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        head
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.data)
    }

    /// One of `items`, chosen by the next byte.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> Option<T> {
        if items.is_empty() {
            return None;
        }
        items.get(usize::from(self.b()) % items.len()).copied()
    }
}

const CLAIMS: [&str; 13] = [
    "iss",
    "sub",
    "aud",
    "jti",
    "iat",
    "nbf",
    "exp",
    "grace_s",
    "entitlements",
    "seats",
    "offline_grace_s",
    "status",
    "x-extra",
];
const HEADER_MEMBERS: [&str; 8] = ["alg", "typ", "kid", "crit", "b64", "cty", "jku", "zip"];
const ALGS: [&str; 9] = [
    "EdDSA", "Ed25519", "eddsa", "ED25519", "none", "HS256", "ES256", "", "EdDSA ",
];
const TYPS: [&str; 9] = [
    lifeline_core::LICENSE_TYP,
    "application/lifeline-license+jwt",
    "Lifeline-License+JWT",
    "JWT",
    lifeline_core::LEASE_TYP,
    lifeline_core::OVERRIDE_TYP,
    "application/",
    "",
    "lifeline-license+jwt\u{0}",
];
const KIDS: [&str; 9] = ["k1", "k2", "kw", "kr", "ko", "kx", "", "K1", "k1 "];
const WHITESPACE: [&str; 5] = [" ", "\n", "\t", "\r\n", "\u{b}"];
const B64_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ";

/// A JSON value chosen by the input: numbers around the interesting edges, strings, arrays,
/// objects, `null`.
pub fn value(inp: &mut Input<'_>) -> Value {
    match inp.b() % 12 {
        0 => json!(inp.uint(8)),
        1 => json!(i64::from(inp.b()) - 128),
        2 => json!(NOW.wrapping_add(inp.uint(4)).wrapping_sub(1 << 31)),
        3 => json!(f64::from(inp.uint(4) as u32) / 7.0),
        4 => Value::String(String::from_utf8_lossy(inp.bytes(32)).into_owned()),
        5 => Value::Bool(inp.b() & 1 == 1),
        6 => Value::Null,
        7 => {
            let n = inp.b() % 5;
            Value::Array(
                (0..n)
                    .map(|_| Value::String(String::from_utf8_lossy(inp.bytes(8)).into_owned()))
                    .collect(),
            )
        }
        8 => {
            let depth = usize::from(inp.b() % 24);
            (0..depth).fold(json!(1), |v, _| json!({ "a": v }))
        }
        9 => match inp.b() % 6 {
            0 => json!(u64::MAX),
            1 => json!(i64::MIN),
            2 => json!(0),
            3 => json!(1u64 << 53),
            4 => json!(-0.0),
            _ => json!(1e300),
        },
        10 => json!([value_leaf(inp), value_leaf(inp)]),
        _ => json!({ "type": value_leaf(inp), "value": value_leaf(inp) }),
    }
}

fn value_leaf(inp: &mut Input<'_>) -> Value {
    match inp.b() % 4 {
        0 => json!(inp.uint(2)),
        1 => Value::String(String::from_utf8_lossy(inp.bytes(8)).into_owned()),
        2 => Value::Null,
        _ => Value::Bool(true),
    }
}

/// A token the structured target built: a license signed by a fuzz signer, then mutated.
#[derive(Clone, Debug)]
pub struct Crafted {
    /// The token as the verifier gets it.
    pub token: String,
    /// The token exactly as signed, before any change made after signing.
    pub signed: String,
    /// The signer's `kid` (see [`SIGNER_KIDS`]).
    pub signer_kid: &'static str,
    /// The header's `kid`, when the header is an object with a string `kid`.
    pub header_kid: Option<String>,
}

impl Crafted {
    /// Whether the signature the verifier sees is one the signer made over exactly these
    /// bytes (surrounding ASCII whitespace aside, which the verifier trims).
    pub fn untouched(&self) -> bool {
        self.token.as_bytes().trim_ascii() == self.signed.as_bytes()
    }
}

enum Post {
    FlipDecoded {
        segment: usize,
        at: usize,
        mask: u8,
    },
    SetChar {
        at: usize,
        to: u8,
    },
    Truncate {
        at: usize,
    },
    Append {
        text: String,
    },
    Segments {
        how: u8,
    },
    Wrap {
        before: &'static str,
        after: &'static str,
    },
    Signature {
        how: u8,
    },
}

/// Decodes fuzzer bytes into a license token: start from a valid license, apply the changes
/// chosen before signing (claims, header members, raw header or payload, signer), sign, then
/// apply the changes chosen after signing (flip bytes in a decoded segment, edit the
/// encoded text, cut, append, move segments, wrap in whitespace, replace the signature).
pub fn craft_license(data: &[u8]) -> Crafted {
    let signers = signers();
    let mut inp = Input::new(data);
    let mut header = json!({ "alg": "EdDSA", "typ": lifeline_core::LICENSE_TYP, "kid": "k1" })
        .as_object()
        .cloned()
        .unwrap_or_default();
    let mut claims = base_claims();
    let mut raw_header: Option<Vec<u8>> = None;
    let mut raw_payload: Option<Vec<u8>> = None;
    let mut signer = 0usize;
    let mut post = Vec::new();
    let mut ops = 0;
    while let Some(op) = inp.byte() {
        ops += 1;
        if ops > 24 {
            break;
        }
        match op % 14 {
            0 => {
                let name = inp.pick(&CLAIMS).unwrap_or("iss");
                let v = value(&mut inp);
                claims.insert(name.to_owned(), v);
            }
            1 => {
                let name = inp.pick(&CLAIMS).unwrap_or("iss");
                claims.remove(name);
            }
            2 => {
                let name = inp.pick(&HEADER_MEMBERS).unwrap_or("alg");
                let v = match (name, inp.b() % 4) {
                    ("alg", 0..=2) => json!(inp.pick(&ALGS)),
                    ("typ", 0..=2) => json!(inp.pick(&TYPS)),
                    ("kid", 0..=2) => json!(inp.pick(&KIDS)),
                    _ => value(&mut inp),
                };
                header.insert(name.to_owned(), v);
            }
            3 => {
                let name = inp.pick(&HEADER_MEMBERS).unwrap_or("alg");
                header.remove(name);
            }
            4 => raw_header = Some(inp.bytes(96).to_vec()),
            5 => raw_payload = Some(inp.bytes(255).to_vec()),
            6 => signer = usize::from(inp.b()) % signers.len(),
            7 => post.push(Post::FlipDecoded {
                segment: usize::from(inp.b() % 3),
                at: inp.uint(2) as usize,
                mask: inp.b().max(1),
            }),
            8 => post.push(Post::SetChar {
                at: inp.uint(2) as usize,
                to: inp.pick(B64_CHARS).unwrap_or(b'A'),
            }),
            9 => post.push(Post::Truncate {
                at: inp.uint(2) as usize,
            }),
            10 => post.push(Post::Append {
                text: String::from_utf8_lossy(inp.bytes(16)).into_owned(),
            }),
            11 => post.push(Post::Segments { how: inp.b() }),
            12 => post.push(Post::Wrap {
                before: inp.pick(&WHITESPACE).unwrap_or(" "),
                after: inp.pick(&WHITESPACE).unwrap_or(" "),
            }),
            _ => post.push(Post::Signature { how: inp.b() }),
        }
    }
    let header_kid = match raw_header {
        Some(_) => None,
        None => header.get("kid").and_then(Value::as_str).map(str::to_owned),
    };
    let header_bytes = raw_header.unwrap_or_else(|| Value::Object(header).to_string().into_bytes());
    let payload_bytes =
        raw_payload.unwrap_or_else(|| Value::Object(claims).to_string().into_bytes());
    let Some(key) = signers.get(signer) else {
        return Crafted {
            token: String::new(),
            signed: String::new(),
            signer_kid: "k1",
            header_kid,
        };
    };
    let mut signed = key.sign_jws(&header_bytes, &payload_bytes);
    let mut token = signed.clone();
    for change in post {
        let (changed, resigned_by) = apply(token, change, signers);
        token = changed;
        // A signature made by a fuzz key over exactly this token's signing input is genuine:
        // the token counts as signed (by that key) from here on.
        if let Some(by) = resigned_by {
            signed.clone_from(&token);
            signer = by;
        }
    }
    Crafted {
        token,
        signed,
        signer_kid: SIGNER_KIDS.get(signer).copied().unwrap_or("k1"),
        header_kid,
    }
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .unwrap_or_else(|_| text.as_bytes().to_vec())
}

/// Applies one change made after signing; also says which signer, if any, made a genuine
/// signature over exactly the resulting token's signing input.
fn apply(token: String, change: Post, signers: &[LicenseSigner]) -> (String, Option<usize>) {
    if let Post::Signature { how } = change
        && how % 4 == 3
    {
        return resign(
            &token,
            usize::from(how >> 4) % signers.len().max(1),
            signers,
        );
    }
    (apply_plain(token, change, signers), None)
}

/// Replaces the signature by another fuzz key's signature over the same header and payload.
fn resign(token: &str, by: usize, signers: &[LicenseSigner]) -> (String, Option<usize>) {
    let mut parts: Vec<&str> = token.split('.').collect();
    let (Some(h), Some(p), Some(signer)) = (parts.first(), parts.get(1), signers.get(by)) else {
        return (token.to_owned(), None);
    };
    let (header, payload) = (unb64(h), unb64(p));
    let canonical = b64(&header) == *h && b64(&payload) == *p;
    let resigned = signer.sign_jws(&header, &payload);
    let sig = resigned.rsplit('.').next().unwrap_or_default().to_owned();
    if parts.len() < 3 {
        return (token.to_owned(), None);
    }
    if let Some(s) = parts.get_mut(2) {
        *s = &sig;
    }
    let genuine = canonical && parts.len() == 3;
    (parts.join("."), genuine.then_some(by))
}

fn apply_plain(token: String, change: Post, signers: &[LicenseSigner]) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    match change {
        Post::FlipDecoded { segment, at, mask } => {
            if let Some(part) = parts.get_mut(segment) {
                let mut bytes = unb64(part);
                if !bytes.is_empty() {
                    let i = at % bytes.len();
                    if let Some(b) = bytes.get_mut(i) {
                        *b ^= mask;
                    }
                }
                *part = b64(&bytes);
            }
            parts.join(".")
        }
        Post::SetChar { at, to } => {
            let mut bytes = token.into_bytes();
            if !bytes.is_empty() {
                let i = at % bytes.len();
                if let Some(b) = bytes.get_mut(i) {
                    *b = to;
                }
            }
            String::from_utf8_lossy(&bytes).into_owned()
        }
        Post::Truncate { at } => {
            let mut t = token;
            let mut cut = at.min(t.len());
            while !t.is_char_boundary(cut) {
                cut -= 1;
            }
            t.truncate(cut);
            t
        }
        Post::Append { text } => token + &text,
        Post::Segments { how } => {
            match how % 6 {
                0 => parts.push(String::new()),
                1 => {
                    let last = parts.len().saturating_sub(1).min(1);
                    parts.swap(0, last);
                }
                2 => {
                    parts.pop();
                }
                3 => {
                    let first = parts.first().cloned().unwrap_or_default();
                    parts.insert(0, first);
                }
                4 => {
                    if let Some(p) = parts.get_mut(1) {
                        p.clear();
                    }
                }
                _ => {
                    if let Some(p) = parts.get_mut(2) {
                        p.push_str("==");
                    }
                }
            }
            parts.join(".")
        }
        Post::Wrap { before, after } => format!("{before}{token}{after}"),
        Post::Signature { how } => {
            let other = signers.get(usize::from(how >> 4) % signers.len().max(1));
            let new_sig = match how % 3 {
                0 => b64(&[0u8; 64]),
                1 => b64(&[0xff; 64]),
                _ => other
                    .map(|s| {
                        s.sign_jws(b"{}", b"{}")
                            .rsplit('.')
                            .next()
                            .unwrap_or_default()
                            .to_owned()
                    })
                    .unwrap_or_default(),
            };
            if let Some(p) = parts.get_mut(2) {
                *p = new_sig;
            }
            parts.join(".")
        }
    }
}

/// Decodes fuzzer bytes into a token of type `typ`: first byte even → the rest is the token
/// itself; odd → the rest is a payload, signed under a well-formed header of that type by
/// the signer the second byte picks (so claim parsing is reached past the signature).
pub fn raw_or_signed(data: &[u8], typ: &str) -> Vec<u8> {
    let mut inp = Input::new(data);
    let mode = inp.b();
    if mode & 1 == 0 {
        return inp.rest().to_vec();
    }
    let signers = signers();
    let which = usize::from(inp.b()) % signers.len();
    let Some(signer) = signers.get(which) else {
        return Vec::new();
    };
    let kid = if mode & 2 == 0 {
        signer.kid().to_owned()
    } else {
        SIGNER_KIDS
            .get(usize::from(mode >> 2) % SIGNER_KIDS.len())
            .copied()
            .unwrap_or("k1")
            .to_owned()
    };
    let header = json!({ "alg": "EdDSA", "typ": typ, "kid": kid }).to_string();
    signer.sign_jws(header.as_bytes(), inp.rest()).into_bytes()
}

/// A signed override token (for override and bundle seeds and targets): `claims` signed by
/// the fuzz signer `kid`.
pub fn sign_override(kid: &str, claims: &Value) -> String {
    let signers = signers();
    let Some(signer) = signers.iter().find(|s| s.kid() == kid) else {
        return String::new();
    };
    let header = json!({ "alg": "EdDSA", "typ": lifeline_core::OVERRIDE_TYP, "kid": kid });
    signer.sign_jws(header.to_string().as_bytes(), claims.to_string().as_bytes())
}

/// The structured target's check (`fuzz/fuzz_targets/token_structured.rs`), also replayed
/// over the regression vectors of `tests/vectors/fuzz/token_structured/` by the core tests:
/// panics when a usable verdict comes for a token changed after signing, or a genuine
/// signature by a key of the set, named by the header, is refused as `bad_signature`.
pub fn check_structured(data: &[u8], keys: &KeySet) {
    let crafted = craft_license(data);
    let verdict = lifeline_core::verify(
        crafted.token.as_bytes(),
        keys,
        &lifeline_core::Policy::new().with_audience("photo-pro"),
        UnixTime::from_secs(NOW),
    );
    if verdict.is_usable() {
        assert!(
            crafted.untouched(),
            "usable verdict for a token changed after signing: {crafted:?} {verdict:?}"
        );
        assert_eq!(crafted.header_kid.as_deref(), Some(crafted.signer_kid));
        assert!(verdict.claims().is_some());
    }
    if crafted.untouched()
        && crafted.header_kid.as_deref() == Some(crafted.signer_kid)
        && keys.get(crafted.signer_kid).is_some()
    {
        assert_ne!(
            verdict.reason(),
            Some(lifeline_core::Reason::BadSignature),
            "a genuine signature refused: {crafted:?}"
        );
    }
    assert!(serde_json::to_string(&verdict).is_ok());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_input_crafts_a_valid_license() {
        let crafted = craft_license(&[]);
        assert!(crafted.untouched());
        let verdict = lifeline_core::verify(
            crafted.token.as_bytes(),
            &key_set(),
            &lifeline_core::Policy::new(),
            UnixTime::from_secs(NOW),
        );
        assert_eq!(verdict.state(), lifeline_core::State::Valid, "{verdict:?}");
    }

    #[test]
    fn a_flipped_signature_byte_is_touched_and_refused() {
        // op 7 (flip decoded), segment 2 (signature), at 0, mask 1
        let crafted = craft_license(&[7, 2, 0, 0, 1]);
        assert!(!crafted.untouched());
        let verdict = lifeline_core::verify(
            crafted.token.as_bytes(),
            &key_set(),
            &lifeline_core::Policy::new(),
            UnixTime::from_secs(NOW),
        );
        assert_eq!(verdict.reason(), Some(lifeline_core::Reason::BadSignature));
    }

    #[test]
    fn the_key_set_has_five_keys_with_their_status() {
        let keys = key_set();
        assert_eq!(keys.len(), 5);
        assert!(keys.get("kr").is_some_and(PublicKey::is_revoked));
        assert!(keys.get("ko").is_some_and(PublicKey::is_for_overrides_only));
        assert!(keys.get("kx").is_none());
    }
}
