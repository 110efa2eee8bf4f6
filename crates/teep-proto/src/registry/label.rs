//! Option-map labels and their wire values in each numbering.

use super::Numbering;

/// Option-map labels (DIGEST 3.1). Draft -26 numbers them 1..=22; legacy leaves 5 free
/// (the removed `selected-teep-cipher-suite`) and shifts every later label by one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Label {
    SupportedCipherSuites,
    Challenge,
    Versions,
    SupportedSuitCoseProfiles,
    SelectedVersion,
    AttestationPayload,
    TcList,
    ExtList,
    ManifestList,
    Msg,
    ErrMsg,
    AttestationPayloadFormat,
    RequestedTcList,
    UnneededManifestList,
    ComponentId,
    TcManifestSequenceNumber,
    HaveBinary,
    SuitReports,
    Token,
    SupportedFreshnessMechanisms,
    ErrLang,
    ErrCode,
}

impl Label {
    /// In draft -26 order, so `ALL[i]` has the draft -26 value `i + 1`.
    pub const ALL: [Label; 22] = [
        Label::SupportedCipherSuites,
        Label::Challenge,
        Label::Versions,
        Label::SupportedSuitCoseProfiles,
        Label::SelectedVersion,
        Label::AttestationPayload,
        Label::TcList,
        Label::ExtList,
        Label::ManifestList,
        Label::Msg,
        Label::ErrMsg,
        Label::AttestationPayloadFormat,
        Label::RequestedTcList,
        Label::UnneededManifestList,
        Label::ComponentId,
        Label::TcManifestSequenceNumber,
        Label::HaveBinary,
        Label::SuitReports,
        Label::Token,
        Label::SupportedFreshnessMechanisms,
        Label::ErrLang,
        Label::ErrCode,
    ];

    pub fn value(self, numbering: Numbering) -> u64 {
        let draft26 = Self::ALL.iter().position(|l| *l == self).unwrap_or(0) as u64 + 1;
        match numbering {
            Numbering::Draft26 => draft26,
            Numbering::Legacy if draft26 >= 5 => draft26 + 1,
            Numbering::Legacy => draft26,
        }
    }

    pub fn from_value(value: u64, numbering: Numbering) -> Option<Self> {
        let draft26 = match numbering {
            Numbering::Draft26 => value,
            // Legacy 5 was selected-teep-cipher-suite: unknown to us, kept as data.
            Numbering::Legacy if value == 5 => return None,
            Numbering::Legacy if value > 5 => value - 1,
            Numbering::Legacy => value,
        };
        if (1..=22).contains(&draft26) {
            Some(Self::ALL[draft26 as usize - 1])
        } else {
            None
        }
    }

    /// CDDL name, also the JSON key.
    pub fn name(self) -> &'static str {
        match self {
            Label::SupportedCipherSuites => "supported-teep-cipher-suites",
            Label::Challenge => "challenge",
            Label::Versions => "versions",
            Label::SupportedSuitCoseProfiles => "supported-suit-cose-profiles",
            Label::SelectedVersion => "selected-version",
            Label::AttestationPayload => "attestation-payload",
            Label::TcList => "tc-list",
            Label::ExtList => "ext-list",
            Label::ManifestList => "manifest-list",
            Label::Msg => "msg",
            Label::ErrMsg => "err-msg",
            Label::AttestationPayloadFormat => "attestation-payload-format",
            Label::RequestedTcList => "requested-tc-list",
            Label::UnneededManifestList => "unneeded-manifest-list",
            Label::ComponentId => "component-id",
            Label::TcManifestSequenceNumber => "tc-manifest-sequence-number",
            Label::HaveBinary => "have-binary",
            Label::SuitReports => "suit-reports",
            Label::Token => "token",
            Label::SupportedFreshnessMechanisms => "supported-freshness-mechanisms",
            Label::ErrLang => "err-lang",
            Label::ErrCode => "err-code",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_round_trip_in_both_numberings() {
        for n in [Numbering::Draft26, Numbering::Legacy] {
            for l in Label::ALL {
                assert_eq!(Label::from_value(l.value(n), n), Some(l));
            }
        }
        assert_eq!(Label::Token.value(Numbering::Draft26), 19);
        assert_eq!(Label::Token.value(Numbering::Legacy), 20);
        assert_eq!(Label::Versions.value(Numbering::Legacy), 3);
        assert_eq!(Label::from_value(5, Numbering::Legacy), None);
        assert_eq!(Label::from_value(23, Numbering::Draft26), None);
        assert_eq!(Label::ErrCode.value(Numbering::Legacy), 23);
    }
}
