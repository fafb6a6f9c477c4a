//! Near-duplicate fingerprints: the same story syndicated under different URLs (wire copy, AMP or
//! mobile variants, a lightly rewritten copy) should be recognized, unrelated stories not.
//!
//! Text is folded for matching (Unicode lowercase, diacritics removed, `đ` → `d`, punctuation
//! dropped) and cut into overlapping three-word shingles. A MinHash signature of [`HASHES`]
//! values estimates the Jaccard similarity of two shingle sets (Broder 1997): the share of equal
//! values. For lookup the signature is cut into [`BANDS`] bands of two values; stories sharing a
//! band are candidates (locality-sensitive hashing), and a candidate is the same story when the
//! estimated similarity reaches the threshold. Numbers in the title are kept apart as a guard:
//! "Part 1" and "Part 2", or two days' weather reports, differ in exactly the words a
//! similarity measure weighs least.

use crate::text::{folded_line, line_words};

/// Fewer words than this say too little to call two texts the same story.
pub const MIN_WORDS: usize = 8;
/// Only the start of a story is compared: syndicated copies differ most in what follows (related
/// links, footers, the outlet's own additions).
const MAX_WORDS: usize = 60;
/// Values in a signature.
pub const HASHES: usize = 12;
/// Bands of `HASHES / BANDS` values each. With two values a band, a pair with similarity 0.8
/// shares a band with probability 1 − (1 − 0.8²)⁶ ≈ 0.998; at 0.3, 0.43 (then rejected).
pub const BANDS: usize = 6;

pub type Signature = [u32; HASHES];

/// The digit-bearing words of a title, in order: two stories whose titles carry different
/// numbers are different stories.
pub fn title_numbers(title: &str) -> String {
    title_numbers_of_folded(&folded_line(title))
}

/// [`title_numbers`] of a title already folded into a line.
pub fn title_numbers_of_folded(title: &str) -> String {
    line_words(title)
        .filter(|w| w.bytes().any(|b| b.is_ascii_digit()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The MinHash signature of a story's title and text, or `None` when there is too little text.
pub fn signature(title: &str, text: &str) -> Option<Signature> {
    signature_of_folded(&folded_line(title), &folded_line(text))
}

/// [`signature`] of a title and text already folded into lines (as in
/// [`crate::text::FoldedFields`]): every word of the title and the first [`MAX_WORDS`] of the text.
pub fn signature_of_folded(title: &str, text: &str) -> Option<Signature> {
    let mut words: Vec<&str> = Vec::with_capacity(2 * MAX_WORDS);
    words.extend(line_words(title).chain(line_words(text).take(MAX_WORDS)));
    if words.len() < MIN_WORDS {
        return None;
    }
    let mut signature = [u32::MAX; HASHES];
    for shingle in words.windows(3) {
        let base = fnv1a(shingle);
        for (i, slot) in signature.iter_mut().enumerate() {
            let value = (mix(base ^ SEEDS[i]) >> 32) as u32;
            if value < *slot {
                *slot = value;
            }
        }
    }
    Some(signature)
}

/// Estimated Jaccard similarity of the shingle sets behind two signatures.
pub fn similarity(a: &Signature, b: &Signature) -> f64 {
    a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / HASHES as f64
}

/// The band keys of a signature, for indexed lookup. The title's numbers are part of every key:
/// stories whose titles carry different numbers are never candidates, however alike their text
/// (a template filled in daily would otherwise collide with all its siblings).
pub fn bands(signature: &Signature, title_numbers: &str) -> [i64; BANDS] {
    let rows = HASHES / BANDS;
    let numbers = fnv1a(&[title_numbers]);
    std::array::from_fn(|band| {
        let mut h = mix(band as u64 + 1) ^ numbers;
        for value in &signature[band * rows..(band + 1) * rows] {
            h = mix(h ^ u64::from(*value));
        }
        h as i64
    })
}

/// Signature as stored: big-endian values, concatenated.
pub fn to_bytes(signature: &Signature) -> Vec<u8> {
    signature.iter().flat_map(|v| v.to_be_bytes()).collect()
}

pub fn from_bytes(bytes: &[u8]) -> Option<Signature> {
    if bytes.len() != HASHES * 4 {
        return None;
    }
    Some(std::array::from_fn(|i| {
        u32::from_be_bytes([
            bytes[4 * i],
            bytes[4 * i + 1],
            bytes[4 * i + 2],
            bytes[4 * i + 3],
        ])
    }))
}

const SEEDS: [u64; HASHES] = [
    0x9E37_79B9_7F4A_7C15,
    0xBF58_476D_1CE4_E5B9,
    0x94D0_49BB_1331_11EB,
    0xD6E8_FEB8_6659_FD93,
    0xA076_1D64_78BD_642F,
    0xE703_7ED1_A0B4_28DB,
    0x8EBC_6AF0_9C88_C6E3,
    0x5899_65CC_7537_4CC3,
    0x1D8E_4E27_C47D_124F,
    0x7FB5_D329_728E_A185,
    0x81DA_DEF4_BC2D_D44D,
    0xB6AF_2E7A_A5E9_D14B,
];

/// splitmix64's finalizer: a fast, well-mixed 64-bit permutation.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a over the words of a shingle: stable across builds and platforms (signatures are
/// stored).
fn fnv1a<S: AsRef<str>>(words: &[S]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for word in words {
        for byte in word.as_ref().bytes().chain([0u8]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::fold_words;

    #[test]
    fn folding_removes_case_diacritics_and_punctuation() {
        assert_eq!(
            fold_words("An ninh mạng: Đà Nẵng!"),
            ["an", "ninh", "mang", "da", "nang"]
        );
        assert_eq!(title_numbers("Phần 2/3: Bão số 5"), "2 3 5");
    }

    #[test]
    fn copies_are_similar_and_different_stories_are_not() {
        let text = "Giá xăng RON 95 giảm 320 đồng mỗi lít từ 15 giờ chiều nay theo quyết định của liên bộ Công Thương và Tài chính trong kỳ điều hành mới, mức giảm mạnh nhất kể từ đầu năm";
        let a = signature("Giá xăng giảm lần thứ ba liên tiếp", text).expect("signature");
        let same = signature("Giá xăng giảm lần thứ ba liên tiếp", text).expect("signature");
        let copy = signature(
            "Giá xăng giảm lần thứ ba liên tiếp",
            &format!("{text}. Xem thêm tin kinh tế"),
        )
        .expect("signature");
        let other = signature("Đội tuyển Việt Nam thắng đậm ở vòng loại", "Chiến thắng 3-0 giúp đội tuyển dẫn đầu bảng sau hai lượt trận với màn trình diễn thuyết phục của các cầu thủ trẻ").expect("signature");
        assert_eq!(similarity(&a, &same), 1.0);
        assert!(similarity(&a, &copy) >= 0.5, "{}", similarity(&a, &copy));
        assert!(similarity(&a, &other) < 0.2, "{}", similarity(&a, &other));
        assert_eq!(from_bytes(&to_bytes(&a)), Some(a));
        assert_eq!(bands(&a, ""), bands(&same, ""));
        assert!(
            bands(&a, "1")
                .iter()
                .zip(bands(&a, "2"))
                .all(|(x, y)| *x != y),
            "numbers change every key"
        );
        assert_eq!(signature("Short", "too short"), None);
    }
}

#[cfg(test)]
mod stability {
    use super::*;

    /// Signatures are stored: the same text must give the same values in every build.
    #[test]
    fn signature_values_are_stable() {
        let s = signature(
            "Bão số 5 đổ bộ Đà Nẵng",
            "Cơn bão mạnh cấp 12 đã đổ bộ vào thành phố Đà Nẵng sáng nay, gây mưa lớn và ngập úng ở nhiều quận",
        )
        .expect("signature");
        assert_eq!(
            s,
            [
                63429348, 1326518, 812540, 206175903, 19969125, 8292681, 7950380, 147585884,
                70591917, 55097480, 4969750, 4936519
            ]
        );
    }
}
