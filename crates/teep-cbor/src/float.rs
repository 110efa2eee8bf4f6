//! Half-precision conversions: `core` has no `f16` on stable, and the shortest-width float
//! rule needs to know when a value fits 16 bits exactly.

/// The value of IEEE 754 half-precision bits.
pub fn f16_bits_to_f64(bits: u16) -> f64 {
    let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((bits >> 10) & 0x1f);
    let mant = f64::from(bits & 0x3ff);
    sign * match exp {
        0 => mant * pow2(-24),
        31 if mant == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        e => (1.0 + mant / 1024.0) * pow2(e - 15),
    }
}

/// Half-precision bits of `f` if the conversion is exact (NaN has no exact form: `None`).
pub fn f64_to_f16_exact(f: f64) -> Option<u16> {
    let sign: u16 = if f.is_sign_negative() { 0x8000 } else { 0 };
    if f == 0.0 {
        return Some(sign);
    }
    if f.is_infinite() {
        return Some(sign | 0x7c00);
    }
    if f.is_nan() {
        return None;
    }
    let a = f.abs();
    // Normal half range: 2^-14 ..= 65504, 10-bit mantissa.
    if (6.103515625e-05..=65504.0).contains(&a) {
        let e = exponent(a);
        let mant = (a / pow2(e) - 1.0) * 1024.0; // m in [0, 1)
        if fract(mant) != 0.0 || !(-14..=15).contains(&e) {
            return None;
        }
        return Some(sign | (((e + 15) as u16) << 10) | mant as u16);
    }
    // Subnormal: multiples of 2^-24 below 2^-14.
    let q = a * pow2(24);
    if a < 6.103515625e-05 && fract(q) == 0.0 && q >= 1.0 {
        return Some(sign | q as u16);
    }
    None
}

/// 2^e for the small exponents used here, exactly (no libm in `core`).
fn pow2(e: i32) -> f64 {
    f64::from_bits(((e + 1023) as u64) << 52)
}

/// floor(log2(a)) of a positive normal `a`, read from its bits.
fn exponent(a: f64) -> i32 {
    ((a.to_bits() >> 52) & 0x7ff) as i32 - 1023
}

fn fract(x: f64) -> f64 {
    // Values here are below 2^34, so the integer part fits i64 exactly.
    x - (x as i64) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_half_round_trips() {
        for bits in 0..=u16::MAX {
            let f = f16_bits_to_f64(bits);
            if f.is_nan() {
                assert_eq!(f64_to_f16_exact(f), None);
            } else {
                assert_eq!(f64_to_f16_exact(f), Some(bits), "{bits:#06x}");
            }
        }
    }

    #[test]
    fn inexact_values_have_no_half_form() {
        assert_eq!(f64_to_f16_exact(1.1), None);
        assert_eq!(f64_to_f16_exact(65520.0), None);
        assert_eq!(f64_to_f16_exact(1e-10), None);
        assert_eq!(f64_to_f16_exact(100000.0), None);
    }
}
