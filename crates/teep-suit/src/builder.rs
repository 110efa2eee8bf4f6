//! Authoring: builds and signs envelopes following the TEEP Appendix E templates
//! (integrated payload or URI fetch, manifest-component-id, uninstall by unlink).

use crate::cbor::Writer;
use crate::codec::{encode_digest, encode_manifest};
use crate::model::*;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use bytes::Bytes;

/// Building or signing failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("builder: {0}")]
    Invalid(String),
    #[error("builder: signing failed: {0}")]
    Sign(String),
    #[error(transparent)]
    Crypto(#[from] crate::error::CryptoError),
}

/// Where the payload comes from at install time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadSource {
    /// Carried in the envelope under this key (e.g. `#tc`).
    Integrated(String),
    /// Fetched from this URI.
    Uri(String),
}

/// A dependency of a built manifest (draft-ietf-suit-trust-domains, suit-dependencies): the
/// dependency envelope's manifest component id (its dependency-prefix), manifest digest and
/// size, and where dependency-resolution fetches it (TEEP Appendix E Example 3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DependsOn {
    pub manifest_component_id: ComponentId,
    /// The dependency's manifest digest (its authentication wrapper's).
    pub digest: Digest,
    /// The dependency envelope's length (image-size bounds the fetch).
    pub size: u64,
    /// A URI, or `#key` for an envelope carried in the dependent's envelope.
    pub uri: String,
    /// The dependency envelope, when it is carried under `uri` (`#key`).
    pub integrated: Option<Bytes>,
}

impl DependsOn {
    /// The dependency `envelope` (tagged or not), fetched from `uri`.
    pub fn by_uri(envelope: &[u8], uri: impl Into<String>) -> Result<Self, BuildError> {
        let env = crate::auth::decode_envelope_unverified(envelope.to_vec(), &Default::default())
            .map_err(|e| BuildError::Invalid(alloc::format!("dependency envelope: {e}")))?;
        let manifest_component_id = crate::processor::manifest_key_of(&env.manifest);
        Ok(DependsOn {
            manifest_component_id,
            digest: env.authentication.digest,
            size: envelope.len() as u64,
            uri: uri.into(),
            integrated: None,
        })
    }

    /// The dependency `envelope`, carried in the dependent's envelope under `key` (`#dep`).
    pub fn integrated(envelope: &[u8], key: &str) -> Result<Self, BuildError> {
        let mut d = DependsOn::by_uri(envelope, key)?;
        d.integrated = Some(Bytes::copy_from_slice(envelope));
        Ok(d)
    }
}

/// Builds a one-component manifest for a Trusted Component.
#[derive(Debug, Clone)]
pub struct ManifestBuilder {
    component_id: ComponentId,
    payload: Bytes,
    vendor_id: Option<Vec<u8>>,
    class_id: Option<Vec<u8>>,
    sequence_number: u64,
    source: PayloadSource,
    manifest_component_id: Option<ComponentId>,
    encrypt_to: Option<teep_cose::PublicKey>,
    tagged: bool,
    depends_on: Vec<DependsOn>,
}

impl ManifestBuilder {
    pub fn new(component_id: ComponentId, payload: impl Into<Bytes>) -> Self {
        ManifestBuilder {
            component_id,
            payload: payload.into(),
            vendor_id: None,
            class_id: None,
            sequence_number: 0,
            source: PayloadSource::Integrated("#tc".into()),
            manifest_component_id: None,
            encrypt_to: None,
            tagged: false,
            depends_on: Vec::new(),
        }
    }
    pub fn vendor_id(mut self, id: impl Into<Vec<u8>>) -> Self {
        self.vendor_id = Some(id.into());
        self
    }
    pub fn class_id(mut self, id: impl Into<Vec<u8>>) -> Self {
        self.class_id = Some(id.into());
        self
    }
    pub fn sequence_number(mut self, n: u64) -> Self {
        self.sequence_number = n;
        self
    }
    pub fn integrated(mut self) -> Self {
        self.source = PayloadSource::Integrated("#tc".into());
        self
    }
    pub fn uri(mut self, uri: impl Into<String>) -> Self {
        self.source = PayloadSource::Uri(uri.into());
        self
    }
    /// Overrides the default manifest component id (the TC id with its last segment `ta`
    /// replaced by `suit`, or `suit` appended).
    pub fn manifest_component_id(mut self, id: ComponentId) -> Self {
        self.manifest_component_id = Some(id);
        self
    }
    /// Encrypts the payload (ECDH-ES+A128KW, A128CTR) for this device key, which must be a
    /// P-256 key (`build` fails otherwise).
    pub fn encrypt_to(mut self, key: teep_cose::PublicKey) -> Self {
        self.encrypt_to = Some(key);
        self
    }
    /// Emits SUIT_Envelope_Tagged (107) instead of the untagged form TEEP uses.
    pub fn tagged(mut self, tagged: bool) -> Self {
        self.tagged = tagged;
        self
    }

    /// Adds a dependency (component index 1, 2, ... in order): dependency-resolution fetches
    /// it and checks its integrity, install processes it before writing the payload, uninstall
    /// drops the link to it (TEEP Appendix E Example 3, with the condition-dependency-integrity
    /// that trust-domains requires before process-dependency).
    pub fn depends_on(mut self, dependency: DependsOn) -> Self {
        self.depends_on.push(dependency);
        self
    }

    /// The TEEP convention: `[..., 'ta']` → `[..., 'suit']`.
    pub fn default_manifest_component_id(component_id: &ComponentId) -> ComponentId {
        let mut id = component_id.clone();
        if id.last().map(|s| s.as_slice() == b"ta").unwrap_or(false) {
            id.pop();
        }
        id.push(b"suit".to_vec());
        id
    }

    /// The manifest and the payload bytes the envelope or the URI must carry.
    /// `random` is used only when encrypting (64 bytes, see `encrypt_payload_ecdh_a128ctr`).
    pub fn build_manifest(&self, random: &[u8; 64]) -> Result<(Manifest, Bytes), BuildError> {
        if self.component_id.is_empty() {
            return Err(BuildError::Invalid(
                "component id needs at least one segment".into(),
            ));
        }
        let mut shared = vec![];
        if let Some(v) = &self.vendor_id {
            shared.push(Parameter::VendorId(Bytes::from(v.clone())));
        }
        if let Some(c) = &self.class_id {
            shared.push(Parameter::ClassId(Bytes::from(c.clone())));
        }
        shared.push(Parameter::ImageDigest(Digest::sha256(&self.payload)));
        shared.push(Parameter::ImageSize(self.payload.len() as u64));
        let mut shared_cmds = vec![cmd(
            CommandCode::OverrideParameters,
            CommandArg::Parameters(shared),
        )];
        if self.vendor_id.is_some() {
            shared_cmds.push(cmd(
                CommandCode::VendorIdentifier,
                CommandArg::ReportingPolicy(15),
            ));
        }
        if self.class_id.is_some() {
            shared_cmds.push(cmd(
                CommandCode::ClassIdentifier,
                CommandArg::ReportingPolicy(15),
            ));
        }
        let uri = match &self.source {
            PayloadSource::Integrated(k) => k.clone(),
            PayloadSource::Uri(u) => u.clone(),
        };
        let mut install_params = vec![Parameter::Uri(uri)];
        let mut carried = self.payload.clone();
        if let Some(key) = &self.encrypt_to {
            let (info, ct) =
                crate::encryption::encrypt_payload_ecdh_a128ctr(&self.payload, key, random)?;
            install_params.push(Parameter::EncryptionInfo(Bytes::from(info)));
            carried = Bytes::from(ct);
        }
        let install = vec![
            cmd(
                CommandCode::OverrideParameters,
                CommandArg::Parameters(install_params),
            ),
            cmd(CommandCode::Fetch, CommandArg::ReportingPolicy(15)),
            cmd(CommandCode::ImageMatch, CommandArg::ReportingPolicy(15)),
        ];
        let uninstall = vec![cmd(CommandCode::Unlink, CommandArg::ReportingPolicy(15))];
        let deps = self.dependency_sequences(shared_cmds, install, uninstall);
        let manifest = Manifest {
            version: 1,
            sequence_number: self.sequence_number,
            common: Common {
                dependencies: deps.dependencies,
                components: vec![self.component_id.clone()],
                shared_sequence: Some(CommandSequence {
                    commands: deps.shared,
                }),
                unknown: vec![],
            },
            reference_uri: None,
            manifest_component_id: Some(
                self.manifest_component_id
                    .clone()
                    .unwrap_or_else(|| Self::default_manifest_component_id(&self.component_id)),
            ),
            validate: None,
            load: None,
            invoke: None,
            uninstall: Some(CommandSequence {
                commands: deps.uninstall,
            }),
            dependency_resolution: deps
                .resolution
                .map(|commands| Severable::Present(CommandSequence { commands })),
            payload_fetch: None,
            candidate_verification: None,
            install: Some(Severable::Present(CommandSequence {
                commands: deps.install,
            })),
            text: None,
            unknown: vec![],
        };
        Ok((manifest, carried))
    }

    /// Builds and signs the envelope (COSE_Sign1, detached). For a URI source the returned
    /// second value is what must be served at that URI (ciphertext when encrypting).
    pub fn build(
        &self,
        signer: &dyn teep_cose::Signer,
        random: &[u8; 64],
    ) -> Result<(Vec<u8>, Bytes), BuildError> {
        let (manifest, carried) = self.build_manifest(random)?;
        let mut integrated = match &self.source {
            PayloadSource::Integrated(k) => vec![(k.clone(), carried.clone())],
            PayloadSource::Uri(_) => vec![],
        };
        for d in &self.depends_on {
            if let Some(envelope) = &d.integrated {
                integrated.push((d.uri.clone(), envelope.clone()));
            }
        }
        let env = sign_manifest(&manifest, &integrated, signer, self.tagged)?;
        Ok((env, carried))
    }

    /// The sequences with the dependencies woven in: with none, as given; otherwise each
    /// sequence starts with set-component-index (required with more than one component), the
    /// payload is component 0 and dependency `k` is component `k + 1`.
    fn dependency_sequences(
        &self,
        shared: Vec<Command>,
        install: Vec<Command>,
        uninstall: Vec<Command>,
    ) -> DependencySequences {
        if self.depends_on.is_empty() {
            return DependencySequences {
                dependencies: vec![],
                shared,
                resolution: None,
                install,
                uninstall,
            };
        }
        let index = |i: u64| {
            cmd(
                CommandCode::SetComponentIndex,
                CommandArg::ComponentIndex(IndexArg::One(i)),
            )
        };
        let policy = |code| cmd(code, CommandArg::ReportingPolicy(15));
        let mut out = DependencySequences {
            dependencies: vec![],
            shared: vec![index(0)],
            resolution: Some(vec![]),
            install: vec![],
            uninstall: vec![],
        };
        out.shared.extend(shared);
        for (k, d) in self.depends_on.iter().enumerate() {
            let i = k as u64 + 1;
            out.dependencies.push(Dependency {
                index: i,
                prefix: Some(d.manifest_component_id.clone()),
                unknown: vec![],
            });
            out.resolution.get_or_insert_with(Vec::new).extend([
                index(i),
                cmd(
                    CommandCode::OverrideParameters,
                    CommandArg::Parameters(vec![
                        Parameter::ImageDigest(d.digest.clone()),
                        Parameter::ImageSize(d.size),
                        Parameter::Uri(d.uri.clone()),
                    ]),
                ),
                policy(CommandCode::Fetch),
                policy(CommandCode::DependencyIntegrity),
            ]);
            out.install.extend([
                index(i),
                policy(CommandCode::DependencyIntegrity),
                policy(CommandCode::ProcessDependency),
            ]);
            out.uninstall
                .extend([index(i), policy(CommandCode::ProcessDependency)]);
        }
        out.install.push(index(0));
        out.install.extend(install);
        out.uninstall.push(index(0));
        out.uninstall.extend(uninstall);
        out
    }
}

/// The command sequences of a manifest with dependencies ([`ManifestBuilder::depends_on`]).
struct DependencySequences {
    dependencies: Vec<Dependency>,
    shared: Vec<Command>,
    resolution: Option<Vec<Command>>,
    install: Vec<Command>,
    uninstall: Vec<Command>,
}

fn cmd(code: CommandCode, arg: CommandArg) -> Command {
    Command {
        code,
        arg,
        offset: 0,
    }
}

/// Encodes and signs a manifest into an envelope with the given integrated members.
pub fn sign_manifest(
    manifest: &Manifest,
    integrated: &[(String, Bytes)],
    signer: &dyn teep_cose::Signer,
    tagged: bool,
) -> Result<Vec<u8>, BuildError> {
    let manifest_bstr = crate::codec::bstr_wrap(&encode_manifest(manifest));
    let digest = Digest::sha256(&manifest_bstr);
    let digest_cbor = encode_digest(&digest);
    let mut prot = Writer::new();
    prot.map(1).uint(1).int(signer.algorithm().to_cose());
    let prot = prot.finish();
    let tbs = crate::auth::tbs("Signature1", &prot, None, &digest_cbor);
    let sig = signer
        .sign(&tbs)
        .map_err(|e| BuildError::Sign(e.to_string()))?;
    let mut block = Writer::new();
    block
        .tag(18)
        .array(4)
        .bytes(&prot)
        .map(1)
        .uint(4)
        .bytes(&signer.kid())
        .null()
        .bytes(&sig);
    let block = block.finish();
    let mut auth = Writer::new();
    auth.array(2).bytes(&digest_cbor).bytes(&block);
    let auth = auth.finish();
    let mut members: Vec<(&String, &Bytes)> = integrated.iter().map(|(k, v)| (k, v)).collect();
    members.sort_by_key(|(k, _)| crate::cbor::key_order_bytes(&crate::cbor::Key::Text(k)));
    let mut w = Writer::new();
    if tagged {
        w.tag(SUIT_ENVELOPE_TAG);
    }
    w.map(2 + members.len());
    w.uint(2).bytes(&auth);
    w.uint(3).raw(&manifest_bstr);
    for (k, v) in members {
        w.text(k).bytes(v);
    }
    Ok(w.finish())
}

/// 64 random bytes from the default crypto provider's generator, for
/// [`ManifestBuilder::build`] when encrypting (libraries pass randomness in).
pub fn provider_random() -> Result<[u8; 64], BuildError> {
    let mut r = [0u8; 64];
    teep_cose::default_provider()
        .fill_random(&mut r)
        .map_err(|e| BuildError::Invalid(alloc::format!("no randomness: {e}")))?;
    Ok(r)
}
