//! The TEEP message types and their wire values.

use super::Numbering;

/// The five TEEP message types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    QueryRequest,
    QueryResponse,
    Update,
    Success,
    Error,
}

impl MessageType {
    pub const ALL: [MessageType; 5] = [
        MessageType::QueryRequest,
        MessageType::QueryResponse,
        MessageType::Update,
        MessageType::Success,
        MessageType::Error,
    ];

    /// Wire value in `numbering` (Success 4/5, Error 5/6).
    pub fn value(self, numbering: Numbering) -> u64 {
        match (self, numbering) {
            (MessageType::QueryRequest, _) => 1,
            (MessageType::QueryResponse, _) => 2,
            (MessageType::Update, _) => 3,
            (MessageType::Success, Numbering::Draft26) => 4,
            (MessageType::Error, Numbering::Draft26) => 5,
            (MessageType::Success, Numbering::Legacy) => 5,
            (MessageType::Error, Numbering::Legacy) => 6,
        }
    }

    pub fn from_value(value: u64, numbering: Numbering) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.value(numbering) == value)
    }

    /// Rust type name (`QueryRequest`), used as the root of error paths.
    pub fn name(self) -> &'static str {
        match self {
            MessageType::QueryRequest => "QueryRequest",
            MessageType::QueryResponse => "QueryResponse",
            MessageType::Update => "Update",
            MessageType::Success => "Success",
            MessageType::Error => "Error",
        }
    }

    /// CDDL rule name (`query-request`), used in JSON.
    pub fn cddl_name(self) -> &'static str {
        match self {
            MessageType::QueryRequest => "query-request",
            MessageType::QueryResponse => "query-response",
            MessageType::Update => "update",
            MessageType::Success => "success",
            MessageType::Error => "error",
        }
    }

    pub fn from_cddl_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|t| t.cddl_name() == name || t.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_types_follow_numbering() {
        assert_eq!(MessageType::from_value(4, Numbering::Legacy), None);
        assert_eq!(
            MessageType::from_value(5, Numbering::Legacy),
            Some(MessageType::Success)
        );
        assert_eq!(
            MessageType::from_value(5, Numbering::Draft26),
            Some(MessageType::Error)
        );
    }
}
