//! Reading a message before anything is trusted: COSE opened, TEEP decoded in the path's
//! numbering (DIGEST §2.2), and what it needs from storage decided.

use alloc::{format, string::ToString};

use teep_proto::Numbering;

use crate::wire::{self, Incoming};

use super::rejection::{RefusalKind, Rejection};
use super::{Inspected, Need, TamCore};

impl TamCore {
    /// Opens and decodes a message without trusting it, and says what it [`Need`]s from
    /// storage. A message in the other numbering is recognised and explained rather than
    /// misread.
    pub fn inspect(&self, bytes: &[u8], numbering: Numbering) -> Result<Inspected, Rejection> {
        let (opened, msg) = match wire::signed::open_message(bytes, numbering) {
            Ok(x) => x,
            Err(e) => {
                let other = numbering.other();
                if let Ok((_, m)) = wire::signed::open_message(bytes, other) {
                    if wire::plausible_in(&m) {
                        return Err(Rejection::refuse(
                            RefusalKind::WrongNumberingForPath,
                            Some(m.type_name()),
                            format!(
                                "{}: this message decodes only in the {} numbering, but this path speaks {}; \
                                 send it to the path that speaks {} ({e})",
                                m.type_name(),
                                other.name(),
                                numbering.name(),
                                other.name()
                            ),
                        ));
                    }
                }
                return Err(Rejection::refuse(
                    RefusalKind::Malformed,
                    None,
                    e.to_string(),
                ));
            }
        };
        let type_name = msg.type_name();
        let message = wire::incoming(msg);
        if let Incoming::Other(t) = &message {
            return Err(Rejection::refuse(
                RefusalKind::UnexpectedMessageType,
                Some(type_name),
                format!("{t}: a TAM accepts only QueryResponse, Success and Error"),
            ));
        }
        let need = self.need(&message);
        Ok(Inspected {
            numbering,
            opened,
            message,
            raw: bytes.to_vec(),
            type_name,
            need,
        })
    }

    /// A QueryRequest token is read under the token key, so only the device and policy come
    /// from storage; any other token is an Update's (or nobody's), which only storage knows.
    fn need(&self, message: &Incoming) -> Need {
        let Some(token) = message.token() else {
            return Need::Nothing;
        };
        match (self.query_session(token), message) {
            (Some(session), Incoming::QueryResponse(_)) => Need::QueryResponse { session },
            (Some(session), _) => Need::Signer { session },
            (None, _) => Need::StoredSession {
                catalog: matches!(message, Incoming::Success { .. }),
            },
        }
    }
}
