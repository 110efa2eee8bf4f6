//! directive-write, directive-fetch, directive-copy and directive-swap: obtain the payload,
//! decrypt it when encryption-info is set, bound its size, and stage it (or keep it as a
//! dependency's envelope).

use super::failure::{Fail, Site};
use super::run::{Ctx, Run};
use crate::auth::decode_envelope_unverified;
use crate::encryption::decrypt_payload;
use crate::model::{Command, CommandCode, Parameter};
use crate::report::ReportReason;
use alloc::format;
use alloc::string::ToString;
use bytes::Bytes;

impl Run<'_> {
    /// Writes the payload of write/fetch/copy/swap into component index `i`.
    pub(super) fn write_payload(
        &mut self,
        ctx: &mut Ctx<'_>,
        cmd: &Command,
        i: u64,
        is_dep: bool,
    ) -> Result<(), Fail> {
        use CommandCode::*;
        let site = self.site(ctx, cmd, i);
        let max = self.p.limits.max_payload_len;
        let mut data: Bytes = match cmd.code {
            Write => match self.parameter(ctx, i, 18) {
                Some(Parameter::Content(b)) => b.clone(),
                _ => {
                    return Err(self.command_error(
                        &site,
                        ReportReason::ParameterUnsupported,
                        "parameter content is not set".into(),
                        false,
                    ))
                }
            },
            Fetch if is_dep => match self.held_dependency(ctx, cmd, i)? {
                Some(envelope) => envelope,
                None => self.fetch_payload(ctx, i, &site, max)?,
            },
            Fetch => self.fetch_payload(ctx, i, &site, max)?,
            Copy | Swap => self.copy_payload(ctx, cmd, i, &site)?,
            // Only write, fetch, copy and swap are dispatched here.
            _ => Bytes::new(),
        };
        if cmd.code != Swap {
            if let Some(Parameter::EncryptionInfo(info)) = self.parameter(ctx, i, 19).cloned() {
                match decrypt_payload(&info, &data, &self.p.keys) {
                    Ok(plain) => data = Bytes::from(plain),
                    Err(e) => {
                        return Err(self.command_error(
                            &site,
                            ReportReason::OperationFailed,
                            e.to_string(),
                            false,
                        ))
                    }
                }
            }
        }
        if data.len() as u64 > max {
            let len = data.len();
            return Err(self.command_error(
                &site,
                ReportReason::OperationFailed,
                format!("payload of {len} bytes exceeds the limit of {max}"),
                false,
            ));
        }
        if is_dep {
            ctx.dep_content.insert(i, data);
            ctx.dep_verified.remove(&i);
            return Ok(());
        }
        let id = self.component_id(ctx, cmd, i)?;
        let owners = self.component_owners(&id).map_err(Fail::Fatal)?;
        if let Some(other) = owners.iter().find(|o| **o != ctx.key) {
            let detail = format!("component {} belongs to installed manifest {}", id, other);
            return Err(self.command_error(
                &site,
                ReportReason::ComponentUnauthorised,
                detail,
                false,
            ));
        }
        self.stage.digests.remove(&id);
        self.stage.components.insert(id.clone(), Some(data));
        if !ctx.written.contains(&id) {
            ctx.written.push(id);
        }
        Ok(())
    }

    /// Dependency resolution without a fetch: the dependency manifest this device already
    /// holds at the dependency's component id (installed earlier, or earlier in the same TEEP
    /// Update), when its manifest digest is the image-digest the dependent pins. The digest
    /// identifies the manifest, so the held copy is the one the URI would serve; signature and
    /// digest are still checked by condition-dependency-integrity as for a fetched one.
    fn held_dependency(
        &mut self,
        ctx: &Ctx<'_>,
        cmd: &Command,
        i: u64,
    ) -> Result<Option<Bytes>, Fail> {
        let Some(Parameter::ImageDigest(want)) = self.parameter(ctx, i, 3).cloned() else {
            return Ok(None);
        };
        let id = self.component_id(ctx, cmd, i)?;
        let Some(held) = self.read_manifest(&id).map_err(Fail::Fatal)? else {
            return Ok(None);
        };
        Ok(
            match decode_envelope_unverified(held.envelope.clone(), &self.p.limits) {
                Ok(env) if env.authentication.digest == want => Some(held.envelope),
                _ => None,
            },
        )
    }

    /// The payload at parameter uri: an integrated payload (`#name`) or one from the
    /// fetcher, bounded by image-size when set and by `max` always.
    fn fetch_payload(
        &mut self,
        ctx: &Ctx<'_>,
        i: u64,
        site: &Site,
        max: u64,
    ) -> Result<Bytes, Fail> {
        let uri = match self.parameter(ctx, i, 21) {
            Some(Parameter::Uri(u)) => u.clone(),
            _ => {
                return Err(self.command_error(
                    site,
                    ReportReason::ParameterUnsupported,
                    "parameter uri is not set".into(),
                    false,
                ))
            }
        };
        let bound = match self.parameter(ctx, i, 14) {
            Some(Parameter::ImageSize(n)) => (*n).min(max),
            _ => max,
        };
        if uri.starts_with('#') {
            match ctx
                .env
                .integrated(&uri)
                .or_else(|| ctx.env.integrated(&uri[1..]))
            {
                Some(b) if b.len() as u64 <= bound => Ok(b.clone()),
                Some(b) => {
                    let len = b.len();
                    Err(self.command_error(
                        site,
                        ReportReason::OperationFailed,
                        format!("integrated payload {uri} of {len} bytes exceeds {bound}"),
                        false,
                    ))
                }
                None => Err(self.command_error(
                    site,
                    ReportReason::OperationFailed,
                    format!("integrated payload {uri} is not in the envelope"),
                    false,
                )),
            }
        } else {
            match self.fetcher.fetch(&uri, bound) {
                Ok(b) if b.len() as u64 <= bound => Ok(b),
                Ok(b) => {
                    let len = b.len();
                    Err(self.command_error(
                        site,
                        ReportReason::OperationFailed,
                        format!("{uri}: {len} bytes exceed {bound}"),
                        false,
                    ))
                }
                // The reason before the URI: err-msg holds 128 characters, and a payload URI
                // can take most of them.
                Err(e) => Err(self.command_error(
                    site,
                    ReportReason::OperationFailed,
                    format!("{} (fetching {})", e.reason, e.uri),
                    false,
                )),
            }
        }
    }

    /// The content of parameter source-component; for swap the destination's old content
    /// is staged into the source at once.
    fn copy_payload(
        &mut self,
        ctx: &Ctx<'_>,
        cmd: &Command,
        i: u64,
        site: &Site,
    ) -> Result<Bytes, Fail> {
        let src = match self.parameter(ctx, i, 22) {
            Some(Parameter::SourceComponent(s)) => *s,
            _ => {
                return Err(self.command_error(
                    site,
                    ReportReason::ParameterUnsupported,
                    "parameter source-component is not set".into(),
                    false,
                ))
            }
        };
        let src_id = self.component_id(ctx, cmd, src)?;
        let content = self.read_component(&src_id).map_err(Fail::Fatal)?;
        let Some(content) = content else {
            return Err(self.command_error(
                site,
                ReportReason::OperationFailed,
                format!("source component {} is empty", src_id),
                false,
            ));
        };
        if cmd.code == CommandCode::Swap {
            let dst_id = self.component_id(ctx, cmd, i)?;
            let dst = self.read_component(&dst_id).map_err(Fail::Fatal)?;
            self.stage.components.insert(src_id.clone(), dst);
            self.stage.digests.remove(&src_id);
        }
        Ok(content)
    }
}
