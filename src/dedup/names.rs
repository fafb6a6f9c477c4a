//! Names in titles: stories written from one template ("Dự báo thời tiết Huế ngày mai" and the
//! same for Nha Trang; "Banjir rendam rumah di Bekasi" and "… di Bogor") are different stories
//! however alike their text, because their titles name different places or people at the same
//! place of an otherwise equal title. Numbers already keep daily reports apart (see
//! [`super::fingerprint::title_numbers`]); this does the same for names.
//!
//! A name is a run of words from the gazetteer below (Vietnamese provinces and cities,
//! Indonesian provinces and cities, with their usual short forms), an acronym ("HAGL", "PSSI"),
//! or, in a title written in sentence case, a capitalised word that does not start a sentence
//! ("Cháy xưởng gỗ ở Long An", "Ông Nguyễn Văn Nam nhận chức"). Indonesian and English titles
//! often capitalise every word; there only the gazetteer and acronyms say what is a name.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::text::folded_line;

/// Places, folded; forms of one place are separated by `|` (the first is its name).
const GAZETTEER: &[&str] = &[
    // Vietnam: provinces and centrally run cities (before and after the 2025 mergers), and
    // cities that make the news on their own.
    "ha noi|thu do ha noi|tp ha noi",
    "ho chi minh|tp ho chi minh|thanh pho ho chi minh|tp hcm|tphcm|hcm|sai gon",
    "hai phong",
    "da nang",
    "can tho",
    "hue|thua thien hue|tp hue|co do hue",
    "an giang",
    "ba ria vung tau|ba ria|vung tau",
    "bac lieu",
    "bac giang",
    "bac kan",
    "bac ninh",
    "ben tre",
    "binh duong",
    "binh dinh",
    "binh phuoc",
    "binh thuan",
    "ca mau",
    "cao bang",
    "dak lak|daklak|dac lac",
    "dak nong",
    "dien bien",
    "dong nai",
    "dong thap",
    "gia lai",
    "ha giang",
    "ha nam",
    "ha tinh",
    "hai duong",
    "hau giang",
    "hoa binh",
    "hung yen",
    "khanh hoa",
    "kien giang",
    "kon tum",
    "lai chau",
    "lang son",
    "lao cai",
    "lam dong",
    "long an",
    "nam dinh",
    "nghe an",
    "ninh binh",
    "ninh thuan",
    "phu tho",
    "phu yen",
    "quang binh",
    "quang nam",
    "quang ngai",
    "quang ninh",
    "quang tri",
    "soc trang",
    "son la",
    "tay ninh",
    "thai binh",
    "thai nguyen",
    "thanh hoa",
    "tien giang",
    "tra vinh",
    "tuyen quang",
    "vinh long",
    "vinh phuc",
    "yen bai",
    "nha trang",
    "da lat",
    "ha long",
    "phan thiet",
    "quy nhon",
    "buon ma thuot",
    "pleiku",
    "tp vinh|thanh pho vinh",
    "my tho",
    "rach gia",
    "phu quoc",
    "sa pa|sapa",
    "hoi an",
    "mong cai",
    "bien hoa",
    "thu duc",
    "long xuyen",
    "chau doc",
    "tuy hoa",
    "cam ranh",
    "dong hoi",
    "tam ky",
    "sam son",
    "cua lo",
    "ha tien",
    "con dao",
    "hoang sa",
    "truong sa",
    // Indonesia: provinces and the cities that make the news.
    "jakarta|dki jakarta|dki",
    "jakarta selatan|jaksel",
    "jakarta utara|jakut",
    "jakarta barat|jakbar",
    "jakarta timur|jaktim",
    "jakarta pusat|jakpus",
    "aceh|nanggroe aceh darussalam",
    "banda aceh",
    "sumatera utara|sumut",
    "sumatera barat|sumbar",
    "sumatera selatan|sumsel",
    "riau",
    "kepulauan riau|kepri",
    "jambi",
    "bangka belitung|babel",
    "bengkulu",
    "lampung",
    "bandar lampung",
    "banten",
    "jawa barat|jabar",
    "jawa tengah|jateng",
    "jawa timur|jatim",
    "yogyakarta|jogja|jogjakarta|diy|di yogyakarta",
    "bali",
    "nusa tenggara barat|ntb",
    "nusa tenggara timur|ntt",
    "kalimantan barat|kalbar",
    "kalimantan tengah|kalteng",
    "kalimantan selatan|kalsel",
    "kalimantan timur|kaltim",
    "kalimantan utara|kaltara",
    "sulawesi utara|sulut",
    "sulawesi tengah|sulteng",
    "sulawesi selatan|sulsel",
    "sulawesi tenggara|sultra",
    "sulawesi barat|sulbar",
    "gorontalo",
    "maluku",
    "maluku utara",
    "papua",
    "papua barat",
    "papua selatan",
    "papua tengah",
    "papua pegunungan",
    "papua barat daya",
    "bekasi",
    "bogor",
    "depok",
    "tangerang",
    "tangerang selatan|tangsel",
    "bandung",
    "surabaya",
    "medan",
    "semarang",
    "makassar",
    "palembang",
    "malang",
    "solo|surakarta",
    "denpasar",
    "padang",
    "pekanbaru",
    "balikpapan",
    "samarinda",
    "banjarmasin",
    "pontianak",
    "manado",
    "kupang",
    "mataram",
    "jayapura",
    "ambon",
    "cirebon",
    "sukabumi",
    "garut",
    "cianjur",
    "karawang",
    "serang",
    "cilegon",
    "tasikmalaya",
    "magelang",
    "kediri",
    "banyuwangi",
    "jember",
    "batam",
    "lombok",
    "labuan bajo",
    "palu",
    "kendari",
    "sorong",
    "merauke",
    "ternate",
    "bukittinggi",
    "pangkal pinang",
    "tanjung pinang",
    "mamuju",
];

/// Words of a title looked at: news titles are far shorter, and the comparison costs the product
/// of two titles' lengths, so a hostile feed's 4 KiB title costs no more than a real one.
const MAX_TITLE_WORDS: usize = 48;

/// The longest place name, in words.
const LONGEST_PLACE: usize = 4;

fn gazetteer() -> &'static HashMap<&'static str, usize> {
    static PLACES: OnceLock<HashMap<&'static str, usize>> = OnceLock::new();
    PLACES.get_or_init(|| {
        GAZETTEER
            .iter()
            .enumerate()
            .flat_map(|(id, forms)| forms.split('|').map(move |form| (form, id)))
            .collect()
    })
}

/// Whether `text` is, as a whole, a place in the gazetteer.
pub fn is_place(text: &str) -> bool {
    gazetteer().contains_key(folded_line(text).trim())
}

/// One word of a title.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Word {
    folded: String,
    /// Part of a name (see the module documentation).
    name: bool,
    /// The place it is part of, when it is part of one.
    place: Option<usize>,
    /// The name it is part of (an index into [`TitleNames::groups`]).
    group: Option<usize>,
}

/// One name of a title: its words, folded, and the place it is, if it is one.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Group {
    text: String,
    place: Option<usize>,
}

/// A title's words with its names marked, ready for [`names_differ`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TitleNames {
    words: Vec<Word>,
    groups: Vec<Group>,
}

impl TitleNames {
    pub fn of(title: &str) -> TitleNames {
        // Words as written, and whether each starts a sentence (the title's start, or after
        // `:`, `.`, `!`, `?`, a dash, a bar or a quote).
        let mut raw: Vec<(&str, bool)> = Vec::new();
        let mut sentence_start = true;
        let mut start: Option<usize> = None;
        for (i, c) in title.char_indices().chain([(title.len(), ' ')]) {
            if c.is_alphanumeric() || (start.is_some() && is_mark(c)) {
                start.get_or_insert(i);
                continue;
            }
            if let Some(s) = start.take() {
                if raw.len() == MAX_TITLE_WORDS {
                    break;
                }
                raw.push((&title[s..i], sentence_start));
                sentence_start = false;
            }
            if matches!(
                c,
                ':' | '.' | '!' | '?' | '-' | '–' | '—' | '|' | '"' | '“' | '”' | '«' | '\'' | '‘'
            ) {
                sentence_start = true;
            }
        }
        let alphabetic: Vec<&(&str, bool)> = raw
            .iter()
            .filter(|(w, start)| !start && w.chars().any(char::is_alphabetic))
            .collect();
        let capitalised = alphabetic
            .iter()
            .filter(|(w, _)| w.chars().next().is_some_and(char::is_uppercase))
            .count();
        // Title Case (most words capitalised, as Indonesian and English outlets often write):
        // capitals say nothing. Vietnamese titles are written in sentence case, however many
        // names and offices they capitalise.
        let title_case = !is_vietnamese(title)
            && !alphabetic.is_empty()
            && capitalised * 10 >= alphabetic.len() * 6;
        let mut words: Vec<Word> = raw
            .iter()
            .map(|(w, starts_sentence)| {
                let letters = w.chars().filter(|c| c.is_alphabetic()).count();
                let acronym = letters >= 2 && w.chars().all(|c| !c.is_lowercase());
                let capital = letters >= 2 && w.chars().next().is_some_and(char::is_uppercase);
                Word {
                    folded: folded_line(w).trim().to_string(),
                    name: acronym && !w.chars().any(|c| c.is_ascii_digit())
                        || (capital && !starts_sentence && !title_case),
                    place: None,
                    group: None,
                }
            })
            .collect();
        let places = gazetteer();
        let mut i = 0;
        while i < words.len() {
            let found = (1..=LONGEST_PLACE.min(words.len() - i))
                .rev()
                .find_map(|n| {
                    let form: Vec<&str> =
                        words[i..i + n].iter().map(|w| w.folded.as_str()).collect();
                    places.get(form.join(" ").as_str()).map(|id| (n, *id))
                });
            match found {
                Some((n, id)) => {
                    for word in &mut words[i..i + n] {
                        word.name = true;
                        word.place = Some(id);
                    }
                    i += n;
                }
                None => i += 1,
            }
        }
        // Consecutive name words form one name (a place's words stay together, apart from
        // the words beside them).
        let mut groups: Vec<Group> = Vec::new();
        let mut previous: Option<Option<usize>> = None;
        for word in &mut words {
            if !word.name {
                previous = None;
                continue;
            }
            match (previous, groups.last_mut()) {
                (Some(place), Some(last)) if place == word.place => {
                    last.text.push(' ');
                    last.text.push_str(&word.folded);
                }
                _ => groups.push(Group {
                    text: word.folded.clone(),
                    place: word.place,
                }),
            }
            word.group = Some(groups.len() - 1);
            previous = Some(word.place);
        }
        TitleNames { words, groups }
    }

    /// The names, folded, in order (for logs and tests).
    pub fn names(&self) -> Vec<String> {
        self.groups.iter().map(|g| g.text.clone()).collect()
    }

    /// Whether this title has `name` too: the same words, or another form of the same place.
    fn has(&self, name: &Group) -> bool {
        self.groups.iter().any(|g| match (g.place, name.place) {
            (Some(a), Some(b)) => a == b,
            _ => g.text == name.text,
        })
    }
}

/// Whether a title is Vietnamese: it has a letter only Vietnamese uses among Latin scripts.
fn is_vietnamese(title: &str) -> bool {
    title.chars().any(|c| {
        matches!(c, 'ă' | 'Ă' | 'đ' | 'Đ' | 'ơ' | 'Ơ' | 'ư' | 'Ư')
            || ('\u{1ea0}'..='\u{1ef9}').contains(&c)
    })
}

/// Combining marks inside a word (decomposed Vietnamese).
fn is_mark(c: char) -> bool {
    ('\u{300}'..='\u{36f}').contains(&c)
}

/// Whether two titles name different places or people at the same place of otherwise equal
/// wording: where the titles differ, both sides hold a name, and they are not two forms of one
/// place ("TP.HCM" and "TP Hồ Chí Minh").
pub fn names_differ(a: &TitleNames, b: &TitleNames) -> bool {
    let (x, y) = (&a.words, &b.words);
    let (n, m) = (x.len(), y.len());
    // Longest common subsequence of folded words; titles are short.
    let mut lcs = vec![vec![0u16; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if x[i].folded == y[j].folded {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    // Walk the alignment; between two matched words lies a hunk of each side's other words.
    let (mut i, mut j) = (0, 0);
    let (mut hunk_x, mut hunk_y) = (i, j);
    loop {
        let matched = i < n && j < m && x[i].folded == y[j].folded;
        if matched || (i == n && j == m) {
            if hunk_differs(a, b, &x[hunk_x..i], &y[hunk_y..j]) {
                return true;
            }
            if i == n && j == m {
                return false;
            }
            i += 1;
            j += 1;
            hunk_x = i;
            hunk_y = j;
        } else if j == m || (i < n && lcs[i + 1][j] >= lcs[i][j + 1]) {
            i += 1;
        } else {
            j += 1;
        }
    }
}

/// Whether both sides of a hunk hold a name the other title lacks (a name that only moved, or
/// is written as another form of the same place, is no difference).
fn hunk_differs(a: &TitleNames, b: &TitleNames, x: &[Word], y: &[Word]) -> bool {
    let lacks = |words: &[Word], own: &TitleNames, other: &TitleNames| {
        words
            .iter()
            .filter_map(|w| w.group)
            .any(|g| own.groups.get(g).is_some_and(|name| !other.has(name)))
    };
    lacks(x, a, b) && lacks(y, b, a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_found_in_titles() {
        for (title, names) in [
            ("Cháy xưởng gỗ ở Long An", vec!["long an"]),
            ("Dự báo thời tiết Huế ngày mai: Nắng nóng", vec!["hue"]),
            (
                "Ông Nguyễn Văn Nam giữ chức Giám đốc Sở Y tế",
                vec!["nguyen van nam", "giam", "so"],
            ),
            ("Banjir Rendam Ratusan Rumah di Bekasi", vec!["bekasi"]),
            ("Gempa M 5,2 guncang Sukabumi", vec!["sukabumi"]),
            ("HAGL thắng 2-1 trên sân Pleiku", vec!["hagl", "pleiku"]),
            ("TP.HCM mưa lớn", vec!["tp hcm"]),
            ("Giá xăng tăng lần thứ ba", vec![]),
        ] {
            assert_eq!(TitleNames::of(title).names(), names, "{title}");
        }
    }

    #[test]
    fn different_names_in_one_template_keep_stories_apart() {
        // (a, b, names differ)
        for (a, b, differ) in [
            // Look-alikes from one template.
            (
                "Dự báo thời tiết Huế ngày mai: nắng nóng",
                "Dự báo thời tiết Nha Trang ngày mai: nắng nóng",
                true,
            ),
            ("Cháy xưởng gỗ ở Long An", "Cháy xưởng gỗ ở Bắc Ninh", true),
            (
                "Bão số 5 đổ bộ Quảng Ngãi",
                "Bão số 5 đổ bộ Quảng Nam",
                true,
            ),
            (
                "Banjir rendam ratusan rumah di Bekasi",
                "Banjir Rendam Ratusan Rumah di Bogor",
                true,
            ),
            (
                "Ông Nguyễn Văn Nam làm Giám đốc Sở",
                "Ông Trần Văn Hùng làm Giám đốc Sở",
                true,
            ),
            // The same story: a name dropped, added, or written another way; wording changed.
            (
                "Cháy xưởng gỗ ở Long An",
                "Cháy lớn tại xưởng gỗ ở Long An",
                false,
            ),
            (
                "Hà Nội xây 3 tuyến đường sắt",
                "Thủ đô xây 3 tuyến đường sắt",
                false,
            ),
            (
                "TP.HCM mưa lớn, nhiều tuyến đường ngập",
                "TP Hồ Chí Minh mưa lớn, nhiều tuyến đường ngập",
                false,
            ),
            (
                "Harga Beras Naik di Pasar",
                "Harga Beras Melonjak di Pasar",
                false,
            ),
            (
                "Dự báo thời tiết Huế: Nắng nóng",
                "Dự báo thời tiết Huế: Trời nắng nóng",
                false,
            ),
            ("Cháy xưởng gỗ ở Long An", "Long An: cháy xưởng gỗ", false),
            // A name that moved, beside one added.
            (
                "Gempa M 5,2 guncang Garut, tidak berpotensi tsunami",
                "Garut diguncang gempa M 5,2, BMKG: tak berpotensi tsunami",
                false,
            ),
            (
                "Bà Trần Thị Lan làm Giám đốc Sở Nghệ An",
                "Nghệ An có tân Giám đốc Sở",
                false,
            ),
            // One name shared, another swapped.
            (
                "Bão số 5 vào Quảng Ngãi, Bình Định mưa lớn",
                "Bão số 5 vào Quảng Nam, Bình Định mưa lớn",
                true,
            ),
        ] {
            assert_eq!(
                names_differ(&TitleNames::of(a), &TitleNames::of(b)),
                differ,
                "{a} | {b}"
            );
            assert_eq!(
                names_differ(&TitleNames::of(b), &TitleNames::of(a)),
                differ,
                "{b} | {a}"
            );
        }
        assert!(is_place("Bekasi") && is_place("Hồ Chí Minh") && !is_place("VnExpress"));
    }

    #[test]
    fn a_hostile_title_is_read_only_as_far_as_a_real_one() {
        let long = "Xa ".repeat(2_000);
        let names = TitleNames::of(&long);
        assert_eq!(names.words.len(), MAX_TITLE_WORDS);
        assert!(!names_differ(&names, &TitleNames::of(&"Yb ".repeat(2_000))));
    }
}
