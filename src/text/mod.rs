//! Small pure helpers for text shared by several stages, one file per purpose: [`markup`] (HTML
//! and XML strings), [`fold`] (folding for matching), [`hash`] (hashes of stored values), and
//! positions in text here (used by config and parse errors alike). No I/O, no policy.

mod fold;
mod hash;
mod markup;

pub use fold::*;
pub use hash::*;
pub use markup::*;

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..floor_char_boundary(text, offset)];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// The largest char boundary of `text` at or before `at`, for cutting a prefix safely.
pub fn floor_char_boundary(text: &str, at: usize) -> usize {
    let mut i = at.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}
