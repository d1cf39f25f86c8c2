//! Strict Ed25519 verification with precomputed tables: the same verdict as ed25519-dalek's
//! `verify_strict`, in less time, because the points a verifier multiplies are known in
//! advance. A verifier checks `R == [s]B - [k]A`: `B` is the curve's base point and `A` one
//! of the few public keys of a key set. `verify_strict` multiplies `A` afresh for every
//! signature (about 250 doublings); here each of `B` and `A` has a table of its multiples
//! `j · 2^(W·i)` and a product is one addition per `W`-bit digit of the scalar, no doubling.
//!
//! Why the verdicts are identical to `verify_strict` (ed25519-dalek 2.2, without
//! `legacy_compatibility`), step by step:
//! - `S` must be canonical (`< ℓ`): the same `Scalar::from_canonical_bytes`.
//! - `A` must not be of small order: a key set refuses such keys, and a table is never built
//!   for one ([`KeyTable::new`] returns `None`; the caller falls back to `verify_strict`).
//! - `k = SHA-512(R ‖ A ‖ M) mod ℓ` over the same bytes (`A` as the key's 32 given bytes).
//! - `verify_strict` decompresses `R` (refusing what does not decode), refuses a small-order
//!   `R`, then compares the *encoding* of `[s]B - [k]A` with the 32 bytes of `R`. Here the
//!   encoding of `R' = [s]B - [k]A` is compared with `R`'s bytes first: when they are equal,
//!   `R` is the canonical encoding of the point `R'`, so it decodes, and `R` is of small
//!   order exactly when `R'` is, which is checked. When they differ, both refuse.
//!
//! Only the arithmetic differs (tables and additions instead of a double-scalar
//! multiplication), and `tests/core/strictness.rs` holds both to the same verdict over every
//! vector, the fuzz corpus and random scalars.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};

use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};
use curve25519_dalek::edwards::EdwardsPoint;
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::Identity;
use sha2::{Digest, Sha512};

/// Bits per digit: a table holds `2^(W-1)` multiples per digit position (signed digits).
/// 8 is the fastest measured (README, benchmark notes) for 4224 multiples, 660 KiB a table.
const W: usize = 8;
/// Multiples per digit position: digits are in `[-2^(W-1), 2^(W-1)]`.
const HALF: usize = 1 << (W - 1);
/// Digit positions for a scalar below `2^253` (every reduced scalar).
const DIGITS: usize = 253_usize.div_ceil(W);
// The top position holds fewer than W bits, so with a carry it stays within HALF and no
// carry leaves it.
const _: () = assert!(253 - W * (DIGITS - 1) < W);

/// Multiples `j · 2^(W·i) · P` of one point `P`, for `j` in `1..=HALF`, `i` in `0..DIGITS`.
pub(crate) struct Table {
    multiples: Vec<EdwardsPoint>,
}

impl Table {
    fn new(point: EdwardsPoint) -> Self {
        let mut multiples = Vec::with_capacity(DIGITS * HALF);
        let mut base = point;
        for _ in 0..DIGITS {
            let mut multiple = base;
            for _ in 0..HALF {
                multiples.push(multiple);
                multiple += base;
            }
            // The next position's base: 2^W times this one (W doublings).
            for _ in 0..W {
                base = base + base;
            }
        }
        Self { multiples }
    }

    /// `[scalar] P`, in variable time (verification handles public data only).
    fn mul(&self, scalar: &Scalar) -> EdwardsPoint {
        let mut sum = EdwardsPoint::identity();
        for (position, digit) in signed_digits(scalar).into_iter().enumerate() {
            let magnitude = usize::from(digit.unsigned_abs());
            if magnitude == 0 {
                continue;
            }
            let Some(multiple) = self.multiples.get(position * HALF + magnitude - 1) else {
                continue; // unreachable: digits are at most HALF in magnitude, positions DIGITS
            };
            if digit > 0 {
                sum += multiple;
            } else {
                sum -= multiple;
            }
        }
        sum
    }
}

/// The scalar as `DIGITS` signed base-`2^W` digits, least significant first, each in
/// `[-HALF, HALF]`, with `Σ dᵢ · 2^(W·i)` equal to the scalar (which is below `2^253`).
fn signed_digits(scalar: &Scalar) -> [i16; DIGITS] {
    let bytes = scalar.as_bytes();
    let bit = |n: usize| -> u16 {
        bytes
            .get(n / 8)
            .map_or(0, |byte| u16::from((byte >> (n % 8)) & 1))
    };
    let mut digits = [0i16; DIGITS];
    let mut carry = 0u16;
    // The top position ends with no carry: see the assertion on DIGITS.
    for (position, digit) in digits.iter_mut().enumerate() {
        let mut window = 0;
        for b in 0..W {
            window |= bit(position * W + b) << b;
        }
        window += carry;
        // window ≤ 2^W; digits above HALF borrow from the next position.
        let window = window as i16; // at most 2^W
        (*digit, carry) = if window > HALF as i16 {
            (window - (1 << W), 1)
        } else {
            (window, 0)
        };
    }
    digits
}

/// What every key shares: the base point's table and the encodings of the points of small
/// order, built once per process on first use.
struct Base {
    table: Table,
    /// The canonical encodings of the eight points of order dividing 8.
    small_order: [[u8; 32]; 8],
}

fn base() -> &'static Base {
    static BASE: OnceLock<Base> = OnceLock::new();
    BASE.get_or_init(|| Base {
        table: Table::new(ED25519_BASEPOINT_POINT),
        small_order: EIGHT_TORSION.map(|point| point.compress().to_bytes()),
    })
}

/// A key's table is built at its `BUILD_AFTER`-th verification: building costs about eight
/// verifications, so a verifier that checks a token or two (an edge worker's cold start)
/// never pays for it, and one that checks many has paid it back after a few more.
const BUILD_AFTER: u32 = 16;

/// One public key's table, built once the key has verified [`BUILD_AFTER`] signatures, and
/// shared by clones of the key.
#[derive(Clone, Default)]
pub(crate) struct KeyTable(Arc<KeyTableInner>);

#[derive(Default)]
struct KeyTableInner {
    verifications: AtomicU32,
    table: OnceLock<Option<Table>>,
}

impl KeyTable {
    /// Strict verification of `signature` over `message` by `key` (the key this table
    /// belongs to). `None` while the table is not built, and when the key is of small order:
    /// the caller then answers with `verify_strict` itself (which refuses such a key).
    pub(crate) fn verify_strict(
        &self,
        key: &ed25519_dalek::VerifyingKey,
        message: &[u8],
        signature: &[u8; 64],
    ) -> Option<bool> {
        let table = match self.0.table.get() {
            Some(table) => table.as_ref()?,
            None if self.0.verifications.fetch_add(1, Ordering::Relaxed) < BUILD_AFTER => {
                return None;
            }
            None => self.build(key)?,
        };
        let (r, s) = signature.split_at(32);
        let (Ok(r), Ok(s)) = (<[u8; 32]>::try_from(r), <[u8; 32]>::try_from(s)) else {
            return Some(false);
        };
        let Some(s) = Option::<Scalar>::from(Scalar::from_canonical_bytes(s)) else {
            return Some(false);
        };
        let hash = Sha512::new()
            .chain_update(r)
            .chain_update(key.as_bytes())
            .chain_update(message)
            .finalize();
        let k = Scalar::from_bytes_mod_order_wide(&hash.into());
        // R' = [s]B + [k](-A): the table holds the multiples of -A.
        let base = base();
        let expected = (base.table.mul(&s) + table.mul(&k)).compress().to_bytes();
        // Equal encodings: R is R', and R' is of small order exactly when its (canonical)
        // encoding is one of the eight small-order encodings.
        Some(expected == r && !base.small_order.contains(&r))
    }
}

impl KeyTable {
    /// Builds the table now (if not built yet). `None` for a key of small order.
    pub(crate) fn build(&self, key: &ed25519_dalek::VerifyingKey) -> Option<&Table> {
        self.0
            .table
            .get_or_init(|| {
                let point = key.to_edwards();
                (!point.is_small_order()).then(|| Table::new(-point))
            })
            .as_ref()
    }
}

impl std::fmt::Debug for KeyTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.table.get().is_some() {
            "KeyTable(built)"
        } else {
            "KeyTable(not built)"
        })
    }
}

/// Tables are derived from the key: two keys are equal whatever their tables hold.
impl PartialEq for KeyTable {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for KeyTable {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_add_up_to_the_scalar() {
        let samples = [
            Scalar::ZERO,
            Scalar::ONE,
            -Scalar::ONE,
            Scalar::from(0x1f_u64),
            Scalar::from(0x10_u64),
            Scalar::from(u64::MAX),
            Scalar::from_bytes_mod_order([0xff; 32]),
            Scalar::from_bytes_mod_order_wide(&[0xa5; 64]),
        ];
        for scalar in samples {
            let mut sum = Scalar::ZERO;
            let mut weight = Scalar::ONE;
            let radix = Scalar::from(1u64 << W);
            for d in signed_digits(&scalar) {
                assert!(usize::from(d.unsigned_abs()) <= HALF);
                let magnitude = Scalar::from(u64::from(d.unsigned_abs()));
                sum += if d < 0 { -magnitude } else { magnitude } * weight;
                weight *= radix;
            }
            assert_eq!(sum, scalar);
        }
    }

    #[test]
    fn table_products_equal_dalek_products() {
        let point = ED25519_BASEPOINT_POINT * Scalar::from(987_654_321u64);
        let table = Table::new(point);
        for seed in 0u8..40 {
            let scalar = Scalar::from_bytes_mod_order_wide(&[seed; 64]);
            assert_eq!(table.mul(&scalar), point * scalar);
            assert_eq!(base().table.mul(&scalar), ED25519_BASEPOINT_POINT * scalar);
        }
    }
}
