//! Near-duplicate fingerprints: the same story syndicated under different URLs (wire copy, AMP or
//! mobile variants, a lightly rewritten copy) should land on nearby fingerprints, unrelated
//! stories far apart.
//!
//! Text is folded for matching (Unicode lowercase, diacritics removed, `đ` → `d`, punctuation
//! dropped), cut into overlapping three-word shingles, and summarized as a 64-bit SimHash
//! (Charikar 2002): the Hamming distance between two fingerprints estimates how different the
//! shingle sets are. Numbers in the title are kept apart as a guard: "Part 1" and "Part 2", or two
//! days' weather reports, differ in exactly the tokens a fingerprint weighs least.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Fewer words than this say too little to call two texts the same story.
pub const MIN_WORDS: usize = 8;
/// Only the start of a story is compared: syndicated copies differ most in what follows (related
/// links, footers, the outlet's own additions).
const MAX_WORDS: usize = 120;

/// Lowercase words without diacritics or punctuation.
pub fn fold_words(text: &str) -> Vec<String> {
    let folded: String = text
        .nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'đ' => 'd',
            c if c.is_alphanumeric() => c,
            _ => ' ',
        })
        .collect();
    folded.split_whitespace().map(str::to_string).collect()
}

/// The digits-bearing words of a title, in order: two stories whose titles carry different
/// numbers are different stories.
pub fn title_numbers(title: &str) -> String {
    fold_words(title)
        .into_iter()
        .filter(|w| w.chars().any(|c| c.is_ascii_digit()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The SimHash of a story's title and text, or `None` when there is too little text.
pub fn fingerprint(title: &str, text: &str) -> Option<u64> {
    let mut words = fold_words(title);
    // The title counts twice: it is what a syndicating outlet changes least.
    words.extend(fold_words(title));
    words.extend(fold_words(text).into_iter().take(MAX_WORDS));
    if words.len() < MIN_WORDS {
        return None;
    }
    let mut weights = [0i32; 64];
    for shingle in words.windows(3) {
        let hash = fnv1a(shingle);
        for (bit, weight) in weights.iter_mut().enumerate() {
            if hash >> bit & 1 == 1 {
                *weight += 1;
            } else {
                *weight -= 1;
            }
        }
    }
    Some(weights.iter().enumerate().fold(
        0u64,
        |acc, (bit, w)| if *w > 0 { acc | 1 << bit } else { acc },
    ))
}

pub fn distance(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

/// The four 16-bit bands of a fingerprint: two fingerprints within distance 3 share at least one.
pub fn bands(fingerprint: u64) -> [i64; 4] {
    [0, 1, 2, 3].map(|i| ((fingerprint >> (16 * i)) & 0xFFFF) as i64)
}

/// FNV-1a over the words of a shingle: stable across builds and platforms (fingerprints are
/// stored), and fast.
fn fnv1a(words: &[String]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for word in words {
        for byte in word.bytes().chain([0u8]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    // FNV's low bits mix poorly; fold the high half in.
    hash ^ (hash >> 29)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_removes_case_diacritics_and_punctuation() {
        assert_eq!(
            fold_words("An ninh mạng: Đà Nẵng!"),
            ["an", "ninh", "mang", "da", "nang"]
        );
        assert_eq!(title_numbers("Phần 2/3: Bão số 5"), "2 3 5");
    }

    #[test]
    fn copies_are_near_and_different_stories_far() {
        let text = "Giá xăng RON 95 giảm 320 đồng mỗi lít từ 15 giờ chiều nay theo quyết định của liên bộ Công Thương và Tài chính trong kỳ điều hành mới";
        let a = fingerprint("Giá xăng giảm lần thứ ba liên tiếp", text).expect("fp");
        let copy = fingerprint(
            "Giá xăng giảm lần thứ ba liên tiếp",
            &format!("{text}. Xem thêm tin kinh tế"),
        )
        .expect("fp");
        let other = fingerprint("Đội tuyển Việt Nam thắng đậm ở vòng loại", "Chiến thắng 3-0 giúp đội tuyển dẫn đầu bảng sau hai lượt trận với màn trình diễn thuyết phục của các cầu thủ trẻ").expect("fp");
        assert!(distance(a, copy) <= 6, "{}", distance(a, copy));
        assert!(distance(a, other) > 16, "{}", distance(a, other));
        assert_eq!(fingerprint("Short", "too short"), None);
    }
}
