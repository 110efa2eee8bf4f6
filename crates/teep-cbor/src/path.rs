//! Where in a message a reader stands, for errors such as
//! `QueryResponse.options.token: expected bstr of 8..64 bytes, got 4`.

use alloc::string::String;
use core::fmt::Write;

/// One step of a path below the reader's root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seg {
    /// A named member: `.name`.
    Name(&'static str),
    /// An array element: `[i]`.
    Index(usize),
    /// The value under an integer map label: `.label`.
    Key(i128),
}

/// `root` followed by the segments: `root.name[3].-1`.
pub(crate) fn render(root: &str, segs: &[Seg]) -> String {
    let mut s = String::from(root);
    for seg in segs {
        // Writing into a String cannot fail.
        let _ = match seg {
            Seg::Name(n) => write!(s, ".{n}"),
            Seg::Index(i) => write!(s, "[{i}]"),
            Seg::Key(k) => write!(s, ".{k}"),
        };
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_names_indexes_and_labels() {
        let segs = [Seg::Name("options"), Seg::Index(2), Seg::Key(-1)];
        assert_eq!(
            render("QueryResponse", &segs),
            "QueryResponse.options[2].-1"
        );
        assert_eq!(render("", &[Seg::Index(0)]), "[0]");
    }
}
