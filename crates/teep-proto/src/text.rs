//! Text that TEEP sends to people: err-msg (draft-ietf-teep-protocol-26 §4.4, §4.6) is
//! "a UTF-8 string in Net-Unicode form (RFC 5198)" of at most 128 bytes. Net-Unicode is NFC
//! with no control characters other than CRLF line ends; an err-msg is one line, so every
//! control character becomes a space.

use alloc::string::String;
use unicode_normalization::UnicodeNormalization;

/// Longest err-msg in bytes (`tstr .size (1..128)`).
pub const ERR_MSG_MAX: usize = 128;

/// `text` as an err-msg: NFC, control characters replaced by spaces, cut to at most `max`
/// bytes on a character boundary after normalisation; an empty result reads `error` (the
/// CDDL wants at least one byte).
pub fn net_unicode_line(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max));
    for c in text.nfc() {
        let c = if c.is_control() { ' ' } else { c };
        if out.len() + c.len_utf8() > max {
            break;
        }
        out.push(c);
    }
    if out.is_empty() {
        out.push_str("error");
    }
    out
}

/// [`net_unicode_line`] with the err-msg limit of 128 bytes.
pub fn err_msg(text: &str) -> String {
    net_unicode_line(text, ERR_MSG_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 5198 §2: Net-Unicode is NFC; a decomposed "é" (e + U+0301) is sent composed.
    #[test]
    fn teep_4_4_err_msg_is_nfc() {
        assert_eq!(err_msg("caf\u{65}\u{301}"), "caf\u{e9}");
    }

    /// RFC 5198 §2: no control characters (an err-msg is one line).
    #[test]
    fn teep_4_4_err_msg_has_no_control_characters() {
        assert_eq!(err_msg("a\r\nb\tc\u{7}\u{85}d"), "a  b c  d");
    }

    /// -26 §4.4: at most 128 bytes, cut on a character boundary after normalisation.
    #[test]
    fn teep_4_4_err_msg_is_cut_to_128_bytes_on_a_character_boundary() {
        let long = "\u{e9}".repeat(100); // 200 bytes
        let out = err_msg(&long);
        assert_eq!(out.len(), 128);
        assert_eq!(out, "\u{e9}".repeat(64));
        let odd = alloc::format!("x{long}");
        assert_eq!(err_msg(&odd).len(), 127);
    }

    #[test]
    fn an_empty_err_msg_reads_error() {
        assert_eq!(err_msg(""), "error");
        assert_eq!(err_msg("abc"), "abc");
    }
}
