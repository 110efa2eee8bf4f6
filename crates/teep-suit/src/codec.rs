//! Decoding and encoding of SUIT_Envelope / SUIT_Manifest.
//!
//! Decoding is two-staged so that nothing but the authentication wrapper is interpreted
//! before the signature is checked: [`split_envelope`] only locates the members of the
//! envelope map, [`decode_authentication`] reads the wrapper, and [`decode_manifest`] runs
//! after verification (see `auth.rs`).

use crate::cbor::Type;
use crate::cbor::{Key, KeyOrder, Reader, Writer};
use crate::error::DecodeError;
use crate::limits::Limits;
use crate::model::*;
use bytes::Bytes;

/// The envelope map with its members located but not interpreted.
#[derive(Debug, Clone)]
pub struct RawEnvelope {
    pub tagged: bool,
    /// Content of the bstr at key 2 (SUIT_Authentication).
    pub authentication: Bytes,
    /// The bstr at key 3 including its header (the digest covers this).
    pub manifest_bstr: Bytes,
    /// Content of the bstr at key 3.
    pub manifest: Bytes,
    pub integrated: Vec<(String, Bytes)>,
    pub severed: Vec<(i64, Bytes)>,
    pub unknown: Vec<(i64, Bytes)>,
    pub raw: Bytes,
}

/// Locates the members of a (tagged 107 or untagged) SUIT_Envelope.
pub fn split_envelope(input: &Bytes, limits: &Limits) -> Result<RawEnvelope, DecodeError> {
    if input.len() > limits.max_envelope_len {
        return Err(DecodeError::new(
            "SUIT_Envelope",
            format!(
                "envelope of {} bytes exceeds the limit of {}",
                input.len(),
                limits.max_envelope_len
            ),
        ));
    }
    let mut r = Reader::new(input, "SUIT_Envelope");
    let mut tagged = false;
    if r.is_type(|t| t == Type::Tag) {
        let tag = r.tag()?;
        if tag != SUIT_ENVELOPE_TAG {
            return Err(r.err(format!(
                "expected tag 107 (SUIT_Envelope_Tagged) or an untagged map, got tag {tag}"
            )));
        }
        tagged = true;
    }
    let n = r.map()?;
    let mut order = KeyOrder::new();
    let mut authentication = None;
    let mut manifest = None;
    let mut integrated = Vec::new();
    let mut severed = Vec::new();
    let mut unknown = Vec::new();
    for _ in 0..n {
        let key = r.key()?;
        order.check(&r, &key)?;
        match key {
            Key::Int(envelope_key::AUTHENTICATION) => {
                r.path = "SUIT_Envelope.authentication-wrapper".into();
                authentication = Some(input.slice_ref(r.bytes()?));
            }
            Key::Int(envelope_key::MANIFEST) => {
                r.path = "SUIT_Envelope.manifest".into();
                if authentication.is_none() {
                    return Err(r.err("authentication-wrapper (2) must precede the manifest (3)"));
                }
                let (with_header, inner) = r.bytes_with_header()?;
                manifest = Some((input.slice_ref(with_header), input.slice_ref(inner)));
            }
            Key::Int(
                k @ (envelope_key::DEPENDENCY_RESOLUTION
                | envelope_key::PAYLOAD_FETCH
                | envelope_key::CANDIDATE_VERIFICATION
                | envelope_key::INSTALL
                | envelope_key::TEXT),
            ) => {
                r.path = format!("SUIT_Envelope.severed[{k}]");
                let (with_header, _) = r.bytes_with_header()?;
                severed.push((k, input.slice_ref(with_header)));
            }
            Key::Int(k) => {
                r.path = format!("SUIT_Envelope[{k}]");
                unknown.push((k, input.slice_ref(r.raw()?)));
            }
            Key::Text(t) => {
                r.path = format!("SUIT_Envelope[{t:?}]");
                integrated.push((t.to_string(), input.slice_ref(r.bytes()?)));
            }
        }
        r.path = "SUIT_Envelope".into();
    }
    r.expect_end()?;
    let authentication =
        authentication.ok_or_else(|| r.err("missing authentication-wrapper (2)"))?;
    let (manifest_bstr, manifest) = manifest.ok_or_else(|| r.err("missing manifest (3)"))?;
    Ok(RawEnvelope {
        tagged,
        authentication,
        manifest_bstr,
        manifest,
        integrated,
        severed,
        unknown,
        raw: input.clone(),
    })
}

/// Decodes SUIT_Authentication (the content of the bstr at envelope key 2).
pub fn decode_authentication(input: &Bytes) -> Result<Authentication, DecodeError> {
    let mut r = Reader::new(input, "SUIT_Envelope.authentication-wrapper");
    let n = r.array()?;
    if n == 0 {
        return Err(r.err("expected [digest, * authentication-block], got an empty array"));
    }
    r.path = "SUIT_Envelope.authentication-wrapper.digest".into();
    let inner = r.bytes()?;
    let digest = decode_digest(inner, &r.path)?;
    let digest_cbor = input.slice_ref(inner);
    let mut blocks = Vec::new();
    for i in 1..n {
        r.path = format!("SUIT_Envelope.authentication-wrapper[{i}]");
        blocks.push(input.slice_ref(r.bytes()?));
    }
    r.path = "SUIT_Envelope.authentication-wrapper".into();
    r.expect_end()?;
    Ok(Authentication {
        digest,
        digest_cbor,
        blocks,
    })
}

/// Decodes a SUIT_Digest array.
pub fn decode_digest(input: &[u8], path: &str) -> Result<Digest, DecodeError> {
    let mut r = Reader::new(input, path);
    let d = read_digest(&mut r)?;
    r.expect_end()?;
    Ok(d)
}

fn read_digest(r: &mut Reader<'_>) -> Result<Digest, DecodeError> {
    let n = r.array()?;
    if n != 2 {
        return Err(r.err(format!(
            "SUIT_Digest: expected [algorithm-id, bytes], got {n} elements"
        )));
    }
    let alg = DigestAlgorithm::from_cose(r.i64()?);
    let bytes = r.bytes()?.to_vec();
    if alg == DigestAlgorithm::Sha256 && bytes.len() != 32 {
        return Err(r.err(format!(
            "SUIT_Digest: SHA-256 digest must be 32 bytes, got {}",
            bytes.len()
        )));
    }
    if bytes.len() > 64 {
        return Err(r.err(format!(
            "SUIT_Digest: digest of {} bytes is longer than any supported hash",
            bytes.len()
        )));
    }
    Ok(Digest {
        algorithm: alg,
        bytes,
    })
}

fn read_component_id(r: &mut Reader<'_>, limits: &Limits) -> Result<ComponentId, DecodeError> {
    let n = r.array()?;
    if n as usize > limits.max_component_id_segments {
        return Err(r.err(format!(
            "component identifier has {n} segments, more than the limit of {}",
            limits.max_component_id_segments
        )));
    }
    let mut id = Vec::with_capacity(n as usize);
    for _ in 0..n {
        id.push(r.bytes()?.to_vec());
    }
    Ok(id)
}

/// Decodes a SUIT_Manifest (the content of the bstr at envelope key 3) and resolves severed
/// members against the envelope.
pub fn decode_manifest(
    root: &Bytes,
    input: &[u8],
    severed: &[(i64, Bytes)],
    limits: &Limits,
) -> Result<Manifest, DecodeError> {
    // Payload fields are `Bytes` slices of `root`; a caller passing an unrelated buffer gets a
    // private copy instead of a panic in `slice_ref`.
    let owned;
    let (root, input): (&Bytes, &[u8]) = if within(root, input) {
        (root, input)
    } else {
        owned = Bytes::copy_from_slice(input);
        (&owned, &owned[..])
    };
    let mut r = Reader::new(input, "SUIT_Manifest");
    if r.is_type(|t| t == Type::Tag) {
        let tag = r.tag()?;
        if tag != SUIT_MANIFEST_TAG {
            return Err(r.err(format!(
                "expected tag 1070 or an untagged map, got tag {tag}"
            )));
        }
    }
    let n = r.map()?;
    let mut order = KeyOrder::new();
    let mut m = Manifest {
        version: 0,
        sequence_number: 0,
        common: Common::default(),
        reference_uri: None,
        manifest_component_id: None,
        validate: None,
        load: None,
        invoke: None,
        uninstall: None,
        dependency_resolution: None,
        payload_fetch: None,
        candidate_verification: None,
        install: None,
        text: None,
        unknown: Vec::new(),
    };
    let (mut have_version, mut have_seq, mut have_common) = (false, false, false);
    for _ in 0..n {
        r.path = "SUIT_Manifest".into();
        let key = r.key()?;
        order.check(&r, &key)?;
        let k = match key {
            Key::Int(k) => k,
            Key::Text(t) => {
                return Err(r.err(format!("unexpected text key {t:?} in SUIT_Manifest")));
            }
        };
        r.path = format!("SUIT_Manifest.{}", manifest_member_name(k));
        let seq = |r: &mut Reader<'_>| -> Result<CommandSequence, DecodeError> {
            let inner = r.bytes()?;
            decode_sequence(root, inner, &r.path.clone(), 0, limits)
        };
        match k {
            manifest_key::VERSION => {
                m.version = r.u64()?;
                have_version = true;
            }
            manifest_key::SEQUENCE_NUMBER => {
                m.sequence_number = r.u64()?;
                have_seq = true;
            }
            manifest_key::COMMON => {
                let inner = r.bytes()?;
                m.common = decode_common(root, inner, limits)?;
                have_common = true;
            }
            manifest_key::REFERENCE_URI => m.reference_uri = Some(r.str()?.to_string()),
            manifest_key::MANIFEST_COMPONENT_ID => {
                m.manifest_component_id = Some(read_component_id(&mut r, limits)?)
            }
            manifest_key::VALIDATE => m.validate = Some(seq(&mut r)?),
            manifest_key::LOAD => m.load = Some(seq(&mut r)?),
            manifest_key::INVOKE => m.invoke = Some(seq(&mut r)?),
            manifest_key::UNINSTALL => m.uninstall = Some(seq(&mut r)?),
            manifest_key::DEPENDENCY_RESOLUTION
            | manifest_key::PAYLOAD_FETCH
            | manifest_key::CANDIDATE_VERIFICATION
            | manifest_key::INSTALL => {
                let member = read_severable(&mut r, root, k, severed, limits)?;
                match k {
                    manifest_key::DEPENDENCY_RESOLUTION => m.dependency_resolution = Some(member),
                    manifest_key::PAYLOAD_FETCH => m.payload_fetch = Some(member),
                    manifest_key::CANDIDATE_VERIFICATION => m.candidate_verification = Some(member),
                    _ => m.install = Some(member),
                }
            }
            manifest_key::TEXT => {
                if r.is_type(|t| t == Type::Bytes) {
                    m.text = Some(Severable::Present(root.slice_ref(r.bytes()?)));
                } else {
                    let digest = read_digest(&mut r)?;
                    let restored = find_severed(severed, k, &digest, &r.path)?
                        .map(|b| b.slice_ref(bstr_content(&b)));
                    m.text = Some(Severable::Severed { digest, restored });
                }
            }
            other => m.unknown.push((other, root.slice_ref(r.raw()?))),
        }
    }
    r.path = "SUIT_Manifest".into();
    r.expect_end()?;
    if !have_version {
        return Err(r.err_at("manifest-version", "missing (required)"));
    }
    if !have_seq {
        return Err(r.err_at("manifest-sequence-number", "missing (required)"));
    }
    if !have_common {
        return Err(r.err_at("common", "missing (required)"));
    }
    Ok(m)
}

/// Whether `sub` lies inside `root`'s memory (so `root.slice_ref(sub)` is valid).
fn within(root: &Bytes, sub: &[u8]) -> bool {
    let (r, s) = (root.as_ptr() as usize, sub.as_ptr() as usize);
    sub.is_empty() || (s >= r && s + sub.len() <= r + root.len())
}

/// Content of a bstr whose header we located ourselves (severed members keep their header).
fn bstr_content(with_header: &Bytes) -> &[u8] {
    let mut r = Reader::new(with_header, "");
    r.bytes().unwrap_or(&[])
}

fn find_severed(
    severed: &[(i64, Bytes)],
    key: i64,
    digest: &Digest,
    path: &str,
) -> Result<Option<Bytes>, DecodeError> {
    let Some((_, b)) = severed.iter().find(|(k, _)| *k == key) else {
        return Ok(None);
    };
    if digest.algorithm != DigestAlgorithm::Sha256 {
        return Err(DecodeError::new(
            path,
            format!(
                "severed member digest algorithm {} is not supported",
                digest.algorithm.to_cose()
            ),
        ));
    }
    // The digest of a severed member covers the bstr-wrapped member, like the manifest digest.
    if Digest::sha256(b).bytes != digest.bytes {
        return Err(DecodeError::new(
            path,
            "severed member in the envelope does not match its digest in the manifest",
        ));
    }
    Ok(Some(b.clone()))
}

fn read_severable(
    r: &mut Reader<'_>,
    root: &Bytes,
    key: i64,
    severed: &[(i64, Bytes)],
    limits: &Limits,
) -> Result<Severable<CommandSequence>, DecodeError> {
    let path = r.path.clone();
    if r.is_type(|t| t == Type::Bytes) {
        let inner = r.bytes()?;
        return Ok(Severable::Present(decode_sequence(
            root, inner, &path, 0, limits,
        )?));
    }
    let digest = read_digest(r)?;
    let restored = match find_severed(severed, key, &digest, &path)? {
        Some(b) => {
            // Slices of the restored member are taken from its own buffer.
            let inner = bstr_content(&b);
            Some(decode_sequence(&b, inner, &path, 0, limits)?)
        }
        None => None,
    };
    Ok(Severable::Severed { digest, restored })
}

fn decode_common(root: &Bytes, input: &[u8], limits: &Limits) -> Result<Common, DecodeError> {
    let mut r = Reader::new(input, "SUIT_Manifest.common");
    let n = r.map()?;
    let mut order = KeyOrder::new();
    let mut c = Common::default();
    for _ in 0..n {
        r.path = "SUIT_Manifest.common".into();
        let key = r.key()?;
        order.check(&r, &key)?;
        match key {
            Key::Int(1) => {
                r.path = "SUIT_Manifest.common.dependencies".into();
                let n = r.map()?;
                let mut dorder = KeyOrder::new();
                for _ in 0..n {
                    r.path = "SUIT_Manifest.common.dependencies".into();
                    let index = r.u64()?;
                    dorder.check(&r, &Key::Int(index as i64))?;
                    r.path = format!("SUIT_Manifest.common.dependencies[{index}]");
                    let mn = r.map()?;
                    let mut dep = Dependency {
                        index,
                        prefix: None,
                        unknown: Vec::new(),
                    };
                    for _ in 0..mn {
                        let k = r.i64()?;
                        if k == 1 {
                            r.path = format!(
                                "SUIT_Manifest.common.dependencies[{index}].dependency-prefix"
                            );
                            dep.prefix = Some(read_component_id(&mut r, limits)?);
                        } else {
                            dep.unknown.push((k, root.slice_ref(r.raw()?)));
                        }
                    }
                    c.dependencies.push(dep);
                }
            }
            Key::Int(2) => {
                r.path = "SUIT_Manifest.common.components".into();
                let n = r.array()?;
                if n == 0 {
                    return Err(r.err("expected at least one component identifier"));
                }
                if n as usize > limits.max_components {
                    return Err(r.err(format!(
                        "{n} components, more than the limit of {}",
                        limits.max_components
                    )));
                }
                for i in 0..n {
                    r.path = format!("SUIT_Manifest.common.components[{i}]");
                    c.components.push(read_component_id(&mut r, limits)?);
                }
            }
            Key::Int(4) => {
                r.path = "SUIT_Manifest.common.shared-sequence".into();
                let inner = r.bytes()?;
                c.shared_sequence = Some(decode_sequence(root, inner, &r.path.clone(), 0, limits)?);
            }
            Key::Int(k) => c.unknown.push((k, root.slice_ref(r.raw()?))),
            Key::Text(t) => return Err(r.err(format!("unexpected text key {t:?}"))),
        }
    }
    r.path = "SUIT_Manifest.common".into();
    r.expect_end()?;
    Ok(c)
}

/// Decodes a SUIT_Command_Sequence; nested sequences (try-each, run-sequence) count towards
/// `limits.max_sequence_depth`.
pub fn decode_sequence(
    root: &Bytes,
    input: &[u8],
    path: &str,
    depth: usize,
    limits: &Limits,
) -> Result<CommandSequence, DecodeError> {
    if depth > limits.max_sequence_depth {
        return Err(DecodeError::new(
            path,
            format!(
                "command sequences nested deeper than {}",
                limits.max_sequence_depth
            ),
        ));
    }
    let owned;
    let (root, input): (&Bytes, &[u8]) = if within(root, input) {
        (root, input)
    } else {
        owned = Bytes::copy_from_slice(input);
        (&owned, &owned[..])
    };
    let mut r = Reader::new(input, path);
    let n = r.array()?;
    if n % 2 != 0 {
        return Err(r.err(format!(
            "SUIT_Command_Sequence must hold command/argument pairs, got {n} elements"
        )));
    }
    let mut commands = Vec::with_capacity((n / 2) as usize);
    for i in 0..n / 2 {
        r.path = format!("{path}[{}]", i * 2);
        let offset = r.position();
        let code = CommandCode::from_cbor(r.i64()?);
        r.path = format!("{path}[{}].{}", i * 2 + 1, code.name());
        let arg = read_arg(&mut r, root, code, depth, limits)?;
        commands.push(Command { code, arg, offset });
    }
    r.path = path.to_string();
    r.expect_end()?;
    Ok(CommandSequence { commands })
}

fn read_arg(
    r: &mut Reader<'_>,
    root: &Bytes,
    code: CommandCode,
    depth: usize,
    limits: &Limits,
) -> Result<CommandArg, DecodeError> {
    use CommandCode::*;
    Ok(match code {
        SetComponentIndex => match r.datatype()? {
            Type::Bool => {
                if r.bool()? {
                    CommandArg::ComponentIndex(IndexArg::All)
                } else {
                    return Err(r.err("expected uint, true or [+ uint], got false"));
                }
            }
            Type::Array => {
                let n = r.array()?;
                if n == 0 {
                    return Err(r.err("expected [+ uint], got an empty array"));
                }
                let mut v = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    v.push(r.u64()?);
                }
                CommandArg::ComponentIndex(IndexArg::List(v))
            }
            _ => CommandArg::ComponentIndex(IndexArg::One(r.u64()?)),
        },
        SetParameters | OverrideParameters => CommandArg::Parameters(read_parameters(r, root)?),
        TryEach => {
            let n = r.array()?;
            let base = r.path.clone();
            let mut alternatives = Vec::new();
            let mut allow_none = false;
            for i in 0..n {
                if r.is_type(|t| t == Type::Null) && i == n - 1 {
                    r.null()?;
                    allow_none = true;
                    continue;
                }
                r.path = format!("{base}[{i}]");
                let inner = r.bytes()?;
                alternatives.push(decode_sequence(
                    root,
                    inner,
                    &r.path.clone(),
                    depth + 1,
                    limits,
                )?);
            }
            r.path = base;
            CommandArg::TryEach {
                alternatives,
                allow_none,
            }
        }
        RunSequence => {
            let inner = r.bytes()?;
            CommandArg::Sequence(decode_sequence(
                root,
                inner,
                &r.path.clone(),
                depth + 1,
                limits,
            )?)
        }
        Unknown(_) => CommandArg::Raw(root.slice_ref(r.raw()?)),
        _ => {
            if r.is_type(|t| matches!(t, Type::U8 | Type::U16 | Type::U32 | Type::U64)) {
                CommandArg::ReportingPolicy(r.u64()?)
            } else {
                CommandArg::Raw(root.slice_ref(r.raw()?))
            }
        }
    })
}

fn read_parameters(r: &mut Reader<'_>, root: &Bytes) -> Result<Vec<Parameter>, DecodeError> {
    let n = r.map()?;
    let base = r.path.clone();
    let mut order = KeyOrder::new();
    let mut out = Vec::with_capacity(n as usize);
    for _ in 0..n {
        r.path = base.clone();
        let label = r.i64()?;
        order.check(r, &Key::Int(label))?;
        r.path = format!("{base}.{}", Parameter::name(label));
        let p = match label {
            1 | 2 | 24 if !r.is_type(|t| t == Type::Bytes) => Parameter::Unknown {
                label,
                raw: root.slice_ref(r.raw()?),
            },
            1 => Parameter::VendorId(root.slice_ref(r.bytes()?)),
            2 => Parameter::ClassId(root.slice_ref(r.bytes()?)),
            24 => Parameter::DeviceId(root.slice_ref(r.bytes()?)),
            3 => {
                let inner = r.bytes()?;
                Parameter::ImageDigest(decode_digest(inner, &r.path)?)
            }
            5 => Parameter::ComponentSlot(r.u64()?),
            12 => Parameter::StrictOrder(r.bool()?),
            13 => Parameter::SoftFailure(r.bool()?),
            14 => Parameter::ImageSize(r.u64()?),
            18 => Parameter::Content(root.slice_ref(r.bytes()?)),
            19 => Parameter::EncryptionInfo(root.slice_ref(r.bytes()?)),
            21 => Parameter::Uri(r.str()?.to_string()),
            22 => Parameter::SourceComponent(r.u64()?),
            23 => Parameter::InvokeArgs(root.slice_ref(r.bytes()?)),
            25 => Parameter::FetchArguments(root.slice_ref(r.bytes()?)),
            _ => Parameter::Unknown {
                label,
                raw: root.slice_ref(r.raw()?),
            },
        };
        out.push(p);
    }
    r.path = base;
    Ok(out)
}

/// Human name of a manifest member key.
pub fn manifest_member_name(k: i64) -> &'static str {
    match k {
        1 => "manifest-version",
        2 => "manifest-sequence-number",
        3 => "common",
        4 => "reference-uri",
        5 => "manifest-component-id",
        7 => "validate",
        8 => "load",
        9 => "invoke",
        15 => "dependency-resolution",
        16 => "payload-fetch",
        18 => "candidate-verification",
        20 => "install",
        23 => "text",
        24 => "uninstall",
        _ => "unknown-member",
    }
}

// ---------------------------------------------------------------------------------------------
// Encoding (deterministic; map keys ascending)

pub(crate) fn write_digest(w: &mut Writer, d: &Digest) {
    w.array(2).int(d.algorithm.to_cose()).bytes(&d.bytes);
}

/// Encodes a SUIT_Digest.
pub fn encode_digest(d: &Digest) -> Vec<u8> {
    let mut w = Writer::new();
    write_digest(&mut w, d);
    w.finish()
}

pub(crate) fn write_component_id(w: &mut Writer, id: &ComponentId) {
    w.array(id.len());
    for s in id {
        w.bytes(s);
    }
}

/// Encodes parameters sorted by label.
fn write_parameters(w: &mut Writer, ps: &[Parameter]) {
    let mut sorted: Vec<&Parameter> = ps.iter().collect();
    sorted.sort_by_key(|p| crate::cbor::key_order_bytes(&Key::Int(p.label())));
    w.map(sorted.len());
    for p in sorted {
        w.int(p.label());
        match p {
            Parameter::VendorId(b) | Parameter::ClassId(b) | Parameter::DeviceId(b) => w.bytes(b),
            Parameter::ImageDigest(d) => w.bytes(&encode_digest(d)),
            Parameter::ComponentSlot(n)
            | Parameter::ImageSize(n)
            | Parameter::SourceComponent(n) => w.uint(*n),
            Parameter::StrictOrder(b) | Parameter::SoftFailure(b) => w.bool(*b),
            Parameter::Content(b)
            | Parameter::EncryptionInfo(b)
            | Parameter::InvokeArgs(b)
            | Parameter::FetchArguments(b) => w.bytes(b),
            Parameter::Uri(s) => w.text(s),
            Parameter::Unknown { raw, .. } => w.raw(raw),
        };
    }
}

/// Encodes a SUIT_Command_Sequence (without the bstr wrapping).
pub fn encode_sequence(s: &CommandSequence) -> Vec<u8> {
    let mut w = Writer::new();
    w.array(s.commands.len() * 2);
    for c in &s.commands {
        w.int(c.code.to_cbor());
        match &c.arg {
            CommandArg::ReportingPolicy(p) => {
                w.uint(*p);
            }
            CommandArg::ComponentIndex(IndexArg::One(i)) => {
                w.uint(*i);
            }
            CommandArg::ComponentIndex(IndexArg::All) => {
                w.bool(true);
            }
            CommandArg::ComponentIndex(IndexArg::List(v)) => {
                w.array(v.len());
                for i in v {
                    w.uint(*i);
                }
            }
            CommandArg::Parameters(ps) => write_parameters(&mut w, ps),
            CommandArg::TryEach {
                alternatives,
                allow_none,
            } => {
                w.array(alternatives.len() + usize::from(*allow_none));
                for a in alternatives {
                    w.bytes(&encode_sequence(a));
                }
                if *allow_none {
                    w.null();
                }
            }
            CommandArg::Sequence(s) => {
                w.bytes(&encode_sequence(s));
            }
            CommandArg::Raw(raw) => {
                w.raw(raw);
            }
        }
    }
    w.finish()
}

/// Encodes SUIT_Common.
pub fn encode_common(c: &Common) -> Vec<u8> {
    let mut w = Writer::new();
    let mut entries: Vec<(i64, Vec<u8>)> = Vec::new();
    if !c.dependencies.is_empty() {
        let mut d = Writer::new();
        let mut deps: Vec<&Dependency> = c.dependencies.iter().collect();
        deps.sort_by_key(|d| d.index);
        d.map(deps.len());
        for dep in deps {
            d.uint(dep.index);
            let n = usize::from(dep.prefix.is_some()) + dep.unknown.len();
            d.map(n);
            if let Some(p) = &dep.prefix {
                d.uint(1);
                write_component_id(&mut d, p);
            }
            for (k, raw) in &dep.unknown {
                d.int(*k).raw(raw);
            }
        }
        entries.push((1, d.finish()));
    }
    if !c.components.is_empty() {
        let mut d = Writer::new();
        d.array(c.components.len());
        for id in &c.components {
            write_component_id(&mut d, id);
        }
        entries.push((2, d.finish()));
    }
    if let Some(s) = &c.shared_sequence {
        let mut d = Writer::new();
        d.bytes(&encode_sequence(s));
        entries.push((4, d.finish()));
    }
    for (k, raw) in &c.unknown {
        entries.push((*k, raw.to_vec()));
    }
    write_sorted_map(&mut w, entries);
    w.finish()
}

fn write_sorted_map(w: &mut Writer, mut entries: Vec<(i64, Vec<u8>)>) {
    entries.sort_by_key(|(k, _)| crate::cbor::key_order_bytes(&Key::Int(*k)));
    w.map(entries.len());
    for (k, v) in entries {
        w.int(k).raw(&v);
    }
}

/// Encodes a SUIT_Manifest (without the bstr wrapping). Severed members are written as their
/// digest; present ones inline.
pub fn encode_manifest(m: &Manifest) -> Vec<u8> {
    let mut entries: Vec<(i64, Vec<u8>)> = Vec::new();
    let mut one = |k: i64, f: &dyn Fn(&mut Writer)| {
        let mut w = Writer::new();
        f(&mut w);
        entries.push((k, w.finish()));
    };
    one(manifest_key::VERSION, &|w| {
        w.uint(m.version);
    });
    one(manifest_key::SEQUENCE_NUMBER, &|w| {
        w.uint(m.sequence_number);
    });
    one(manifest_key::COMMON, &|w| {
        w.bytes(&encode_common(&m.common));
    });
    if let Some(u) = &m.reference_uri {
        one(manifest_key::REFERENCE_URI, &|w| {
            w.text(u);
        });
    }
    if let Some(id) = &m.manifest_component_id {
        one(manifest_key::MANIFEST_COMPONENT_ID, &|w| {
            write_component_id(w, id)
        });
    }
    for (k, s) in [
        (manifest_key::VALIDATE, &m.validate),
        (manifest_key::LOAD, &m.load),
        (manifest_key::INVOKE, &m.invoke),
        (manifest_key::UNINSTALL, &m.uninstall),
    ] {
        if let Some(s) = s {
            one(k, &|w| {
                w.bytes(&encode_sequence(s));
            });
        }
    }
    for (k, s) in [
        (
            manifest_key::DEPENDENCY_RESOLUTION,
            &m.dependency_resolution,
        ),
        (manifest_key::PAYLOAD_FETCH, &m.payload_fetch),
        (
            manifest_key::CANDIDATE_VERIFICATION,
            &m.candidate_verification,
        ),
        (manifest_key::INSTALL, &m.install),
    ] {
        match s {
            Some(Severable::Present(s)) => one(k, &|w| {
                w.bytes(&encode_sequence(s));
            }),
            Some(Severable::Severed { digest, .. }) => one(k, &|w| write_digest(w, digest)),
            None => {}
        }
    }
    match &m.text {
        Some(Severable::Present(b)) => one(manifest_key::TEXT, &|w| {
            w.bytes(b);
        }),
        Some(Severable::Severed { digest, .. }) => {
            one(manifest_key::TEXT, &|w| write_digest(w, digest))
        }
        None => {}
    }
    for (k, raw) in &m.unknown {
        entries.push((*k, raw.to_vec()));
    }
    let mut w = Writer::new();
    write_sorted_map(&mut w, entries);
    w.finish()
}

/// Wraps `content` in a bstr header.
pub fn bstr_wrap(content: &[u8]) -> Vec<u8> {
    let mut w = Writer::new();
    w.bytes(content);
    w.finish()
}
