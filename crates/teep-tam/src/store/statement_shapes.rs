//! The shapes of the group commit's multi-row statements: placeholders per backend, VALUES
//! rows, IN lists, and the power-of-two chunking that keeps the statement cache small.

use super::Backend;

/// Rows per multi-row statement. Statements are cut in power-of-two sizes up to this, so a
/// connection's statement cache holds a handful of shapes per kind instead of one per size.
pub(super) const MAX_ROWS: usize = 32;

/// How a statement's parameters are written. PostgreSQL takes only `$n`. SQLite takes `$n`
/// too, but sqlx then looks each parameter's name up in SQLite's list of names, a linear scan
/// per parameter: a 256-parameter batch statement cost 2 % of the TAM's time in that
/// quadratic loop. Anonymous `?` parameters bind in order without names.
#[derive(Clone, Copy)]
pub(super) enum Ph {
    Dollar,
    Question,
}

impl Ph {
    pub(super) fn of(backend: Backend) -> Ph {
        match backend {
            Backend::Sqlite => Ph::Question,
            Backend::Postgres => Ph::Dollar,
        }
    }

    /// The `n`th parameter (from 1).
    pub(super) fn push(self, s: &mut String, n: usize) {
        match self {
            Ph::Dollar => {
                s.push('$');
                s.push_str(&n.to_string());
            }
            Ph::Question => s.push('?'),
        }
    }
}

/// `($1, $2), ($3, $4)` (or `(?, ?), (?, ?)`) for `rows` rows of `cols` columns.
pub(super) fn values(ph: Ph, rows: usize, cols: usize) -> String {
    values_with(ph, rows, &vec!["$"; cols])
}

/// `$1, $2, ...` (or `?, ?, ...`) for an IN list.
pub(super) fn list(ph: Ph, n: usize) -> String {
    let mut s = String::new();
    for i in 1..=n {
        if i > 1 {
            s.push_str(", ");
        }
        ph.push(&mut s, i);
    }
    s
}

/// Splits `items` into chunks of power-of-two sizes no larger than [`MAX_ROWS`].
pub(super) fn chunks<T>(mut items: &[T]) -> Vec<&[T]> {
    let mut out = Vec::new();
    while !items.is_empty() {
        let mut size = MAX_ROWS;
        while size > items.len() {
            size /= 2;
        }
        let (a, b) = items.split_at(size);
        out.push(a);
        items = b;
    }
    out
}

/// Like [`values`], but each row follows `template`: `"$"` is the next placeholder, anything
/// else is written as is (a constant of every row).
pub(super) fn values_with(ph: Ph, rows: usize, template: &[&str]) -> String {
    let mut s = String::new();
    let mut n = 1;
    for r in 0..rows {
        if r > 0 {
            s.push_str(", ");
        }
        s.push('(');
        for (c, t) in template.iter().enumerate() {
            if c > 0 {
                s.push_str(", ");
            }
            if *t == "$" {
                ph.push(&mut s, n);
                n += 1;
            } else {
                s.push_str(t);
            }
        }
        s.push(')');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_powers_of_two_and_cover_everything() {
        for n in 0..200usize {
            let v: Vec<usize> = (0..n).collect();
            let c = chunks(&v);
            assert_eq!(c.iter().map(|p| p.len()).sum::<usize>(), n);
            assert!(c
                .iter()
                .all(|p| p.len().is_power_of_two() && p.len() <= MAX_ROWS));
            assert_eq!(c.concat(), v);
        }
    }

    #[test]
    fn placeholders_number_from_one() {
        assert_eq!(values(Ph::Dollar, 2, 2), "($1, $2), ($3, $4)");
        assert_eq!(
            values_with(Ph::Dollar, 2, &["$", "'q'", "$"]),
            "($1, 'q', $2), ($3, 'q', $4)"
        );
        assert_eq!(list(Ph::Dollar, 3), "$1, $2, $3");
        assert_eq!(values(Ph::Question, 2, 2), "(?, ?), (?, ?)");
        assert_eq!(list(Ph::Question, 2), "?, ?");
    }
}
