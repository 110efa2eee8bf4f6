//! The few X.509 pieces COSE `x5chain` (RFC 9360) needs beside a path validator: a
//! certificate's subject key as a [`PublicKey`], its keyUsage bits and subject common name,
//! and the DER form of an ECDSA signature (RFC 5480 `ECDSA-Sig-Value`) that X.509 uses where
//! COSE uses raw `r || s`.
//!
//! Path validation itself (signatures, validity, basicConstraints, name chaining) is
//! rustls-webpki's, in the TAM core. What is here is hand-rolled because webpki keeps these
//! fields private and a full X.509 parser (x509-cert, x509-parser) would be a second ASN.1
//! stack for four fields of a certificate that webpki has already accepted; the walker reads
//! DER definite lengths only and gives up (`None`) on anything else.

use alloc::{string::String, vec::Vec};

use crate::{KeyError, PublicKey};

/// keyUsage bits (RFC 5280 §4.2.1.3), as the first two bytes of the BIT STRING.
pub const KEY_USAGE_DIGITAL_SIGNATURE: u16 = 0x8000;
/// keyCertSign.
pub const KEY_USAGE_KEY_CERT_SIGN: u16 = 0x0400;

const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_PRIME256V1: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];
const OID_KEY_USAGE: &[u8] = &[0x55, 0x1d, 0x0f];
const OID_COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];

/// One DER TLV: (tag byte, contents, what follows).
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// The contents of a TLV that must carry `tag`.
fn expect(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (t, content, rest) = tlv(input)?;
    (t == tag).then_some((content, rest))
}

/// The TBSCertificate fields from `subject` on: (subject, subjectPublicKeyInfo TLV, rest).
fn tbs_from_subject(cert_der: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let (cert, _) = expect(cert_der, 0x30)?;
    let (tbs, _) = expect(cert, 0x30)?;
    let mut rest = tbs;
    if rest.first() == Some(&0xa0) {
        rest = tlv(rest)?.2; // [0] version
    }
    rest = expect(rest, 0x02)?.1; // serialNumber
    rest = expect(rest, 0x30)?.1; // signature
    rest = expect(rest, 0x30)?.1; // issuer
    rest = expect(rest, 0x30)?.1; // validity
    let (subject, rest) = expect(rest, 0x30)?;
    let (_, _, after_spki) = tlv(rest)?;
    let spki = &rest[..rest.len() - after_spki.len()];
    Some((subject, spki, after_spki))
}

/// The subject key of a DER certificate.
pub fn certificate_public_key(cert_der: &[u8]) -> Result<PublicKey, KeyError> {
    let (_, spki, _) = tbs_from_subject(cert_der)
        .ok_or_else(|| KeyError::Format("certificate: not a DER X.509 certificate".into()))?;
    public_key_from_spki(spki)
}

/// A DER SubjectPublicKeyInfo holding a P-256 (RFC 5480) or Ed25519 (RFC 8410) key.
pub fn public_key_from_spki(spki: &[u8]) -> Result<PublicKey, KeyError> {
    let bad = |why: &str| KeyError::Format(alloc::format!("subjectPublicKeyInfo: {why}"));
    let (inner, _) = expect(spki, 0x30).ok_or_else(|| bad("not a SEQUENCE"))?;
    let (alg, rest) = expect(inner, 0x30).ok_or_else(|| bad("no algorithm"))?;
    let (bits, _) = expect(rest, 0x03).ok_or_else(|| bad("no BIT STRING"))?;
    let key = match bits.split_first() {
        Some((0, key)) => key,
        _ => return Err(bad("BIT STRING with unused bits")),
    };
    let (oid, params) = expect(alg, 0x06).ok_or_else(|| bad("no algorithm OID"))?;
    if oid == OID_EC_PUBLIC_KEY {
        match expect(params, 0x06) {
            Some((curve, _)) if curve == OID_PRIME256V1 => PublicKey::from_p256_sec1(key),
            _ => Err(bad("EC key on a curve other than P-256")),
        }
    } else if oid == OID_ED25519 {
        PublicKey::from_ed25519_bytes(key)
    } else {
        Err(bad("neither id-ecPublicKey (P-256) nor id-Ed25519"))
    }
}

/// One extension: (OID, critical, extnValue contents).
type Extension<'a> = (&'a [u8], bool, &'a [u8]);

/// The extensions of a certificate.
fn extensions(cert_der: &[u8]) -> Option<Vec<Extension<'_>>> {
    let (_, _, mut rest) = tbs_from_subject(cert_der)?;
    let mut out = Vec::new();
    while let Some((tag, content, next)) = tlv(rest) {
        rest = next;
        if tag != 0xa3 {
            continue; // issuerUniqueID / subjectUniqueID
        }
        let (mut list, _) = expect(content, 0x30)?;
        while !list.is_empty() {
            let (ext, next) = expect(list, 0x30)?;
            list = next;
            let (oid, mut body) = expect(ext, 0x06)?;
            let mut critical = false;
            if body.first() == Some(&0x01) {
                let (b, next) = expect(body, 0x01)?;
                critical = b.first().is_some_and(|b| *b != 0);
                body = next;
            }
            let (value, _) = expect(body, 0x04)?;
            out.push((oid, critical, value));
        }
    }
    Some(out)
}

/// The keyUsage bits of a certificate (see the `KEY_USAGE_*` constants): `Ok(None)` without
/// the extension, `Err(())` when the certificate or the extension does not parse.
#[allow(clippy::result_unit_err)]
pub fn key_usage(cert_der: &[u8]) -> Result<Option<u16>, ()> {
    let exts = extensions(cert_der).ok_or(())?;
    let Some((_, _, value)) = exts.iter().find(|(oid, _, _)| *oid == OID_KEY_USAGE) else {
        return Ok(None);
    };
    let (bits, _) = expect(value, 0x03).ok_or(())?;
    let first = u16::from(*bits.get(1).unwrap_or(&0)) << 8;
    let second = u16::from(*bits.get(2).unwrap_or(&0));
    Ok(Some(first | second))
}

/// The first commonName of a certificate's subject.
pub fn subject_common_name(cert_der: &[u8]) -> Option<String> {
    let (mut name, _, _) = tbs_from_subject(cert_der)?;
    while !name.is_empty() {
        let (rdn, next) = expect(name, 0x31)?;
        name = next;
        let (atv, _) = expect(rdn, 0x30)?;
        let (oid, value) = expect(atv, 0x06)?;
        if oid == OID_COMMON_NAME {
            let (_, text, _) = tlv(value)?;
            return core::str::from_utf8(text).ok().map(String::from);
        }
    }
    None
}

/// Whether a certificate names itself as its issuer (a root's self-signed certificate).
pub fn is_self_issued(cert_der: &[u8]) -> bool {
    let issuer = (|| {
        let (cert, _) = expect(cert_der, 0x30)?;
        let (tbs, _) = expect(cert, 0x30)?;
        let mut rest = tbs;
        if rest.first() == Some(&0xa0) {
            rest = tlv(rest)?.2;
        }
        rest = expect(rest, 0x02)?.1;
        rest = expect(rest, 0x30)?.1;
        Some(expect(rest, 0x30)?.0)
    })();
    issuer.is_some() && issuer == subject_der(cert_der)
}

/// The DER subject Name of a certificate (its contents, without the SEQUENCE header).
pub fn subject_der(cert_der: &[u8]) -> Option<&[u8]> {
    tbs_from_subject(cert_der).map(|(s, _, _)| s)
}

/// A DER `ECDSA-Sig-Value` as raw `r || s` of 32 bytes each (P-256), or `None`.
pub fn ecdsa_der_to_raw(der: &[u8]) -> Option<[u8; 64]> {
    let (seq, rest) = expect(der, 0x30)?;
    if !rest.is_empty() {
        return None;
    }
    let (r, rest) = expect(seq, 0x02)?;
    let (s, rest) = expect(rest, 0x02)?;
    if !rest.is_empty() {
        return None;
    }
    let mut out = [0u8; 64];
    for (i, int) in [r, s].into_iter().enumerate() {
        let int = match int {
            [0, tail @ ..] if tail.first().is_some_and(|b| b & 0x80 != 0) => tail,
            [first, ..] if first & 0x80 != 0 => return None, // negative
            _ => int,
        };
        if int.is_empty() || int.len() > 32 || (int.len() > 1 && int[0] == 0) {
            return None;
        }
        out[i * 32 + 32 - int.len()..(i + 1) * 32].copy_from_slice(int);
    }
    Some(out)
}

/// Raw `r || s` (64 bytes) as a DER `ECDSA-Sig-Value`.
pub fn ecdsa_raw_to_der(raw: &[u8]) -> Option<Vec<u8>> {
    if raw.len() != 64 {
        return None;
    }
    let mut body = Vec::with_capacity(72);
    for half in raw.chunks(32) {
        let start = half.iter().position(|b| *b != 0).unwrap_or(31);
        let int = &half[start..];
        let pad = int[0] & 0x80 != 0;
        body.push(0x02);
        body.push((int.len() + usize::from(pad)) as u8);
        if pad {
            body.push(0);
        }
        body.extend_from_slice(int);
    }
    let mut out = Vec::with_capacity(body.len() + 2);
    out.push(0x30);
    out.push(body.len() as u8);
    out.extend_from_slice(&body);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecdsa_signature_round_trips_between_raw_and_der() {
        for raw in [[0x11u8; 64], [0x80; 64], {
            let mut r = [0u8; 64];
            r[31] = 1;
            r[40] = 0x7f;
            r
        }] {
            let der = ecdsa_raw_to_der(&raw).unwrap();
            assert_eq!(ecdsa_der_to_raw(&der), Some(raw));
        }
    }

    #[test]
    fn ecdsa_der_refuses_negative_and_overlong_integers() {
        assert_eq!(
            ecdsa_der_to_raw(&[0x30, 0x06, 0x02, 0x01, 0x80, 0x02, 0x01, 0x01]),
            None
        );
        let mut long = vec![0x30, 0x25, 0x02, 0x21, 0x01];
        long.extend_from_slice(&[0x11; 32]);
        long.extend_from_slice(&[0x02, 0x01, 0x01]);
        assert_eq!(ecdsa_der_to_raw(&long), None);
        assert_eq!(ecdsa_der_to_raw(&[0x30, 0x80]), None);
    }

    #[cfg(feature = "json")]
    #[test]
    fn spki_of_both_key_types_reads_back() {
        for key in [
            crate::PrivateKey::from_p256_scalar(&[0x31; 32]).unwrap(),
            crate::PrivateKey::from_ed25519_seed(&[0x32; 32]).unwrap(),
        ] {
            let public = key.public_key();
            let pem = public.to_spki_pem();
            let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
            use base64::Engine as _;
            let der = base64::engine::general_purpose::STANDARD
                .decode(body)
                .unwrap();
            assert_eq!(public_key_from_spki(&der).unwrap(), public);
        }
        assert!(public_key_from_spki(&[0x30, 0x00]).is_err());
    }
}
