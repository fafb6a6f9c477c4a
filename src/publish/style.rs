//! Our one stylesheet, compiled in and served at a URL that names a hash of its bytes, so that
//! it can be cached for a year: a changed stylesheet is a new URL, which every page names.
//! No fonts, images or anything else is loaded from anywhere.

use std::sync::LazyLock;

/// The stylesheet itself.
pub const STYLESHEET: &str = include_str!("style.css");

/// `style.<first 16 hex digits of its SHA-256>.css`.
static FILE_NAME: LazyLock<String> = LazyLock::new(|| {
    let hash = crate::text::hash_bytes(STYLESHEET.as_bytes());
    format!("style.{}.css", &hash[..16])
});

/// The stylesheet's file name under `/static/`.
pub fn file_name() -> &'static str {
    &FILE_NAME
}

/// The path pages link the stylesheet at: under the path of `base_url`, without its scheme and
/// host, so that the page's `Content-Security-Policy: default-src 'self'` admits it whatever
/// host name the reader used.
pub fn stylesheet_url(base_url: &str) -> String {
    let path = url::Url::parse(base_url).map_or_else(|_| "/".to_string(), |u| u.path().to_string());
    let path = if path.ends_with('/') {
        path
    } else {
        format!("{path}/")
    };
    format!("{path}static/{}", file_name())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_names_the_hash_of_the_bytes_under_the_base_path() {
        let name = file_name();
        assert!(name.starts_with("style.") && name.ends_with(".css"));
        assert_eq!(
            &name[6..22],
            &crate::text::hash_bytes(STYLESHEET.as_bytes())[..16]
        );
        assert_eq!(
            stylesheet_url("https://news.example/tributary/"),
            format!("/tributary/static/{name}")
        );
        assert_eq!(stylesheet_url("http://h.test/"), format!("/static/{name}"));
    }

    /// The colour variables of the `:root` block starting at `from`: (name, sRGB).
    fn colours(from: &str) -> Vec<(&str, [f64; 3])> {
        let block = &from[..from.find('}').expect("end of block")];
        block
            .lines()
            .filter_map(|line| {
                let (name, value) = line.trim().strip_prefix("--")?.split_once(':')?;
                let hex = value.trim().trim_end_matches(';').strip_prefix('#')?;
                let channel =
                    |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).map(|c| f64::from(c) / 255.0);
                Some((name, [channel(0).ok()?, channel(2).ok()?, channel(4).ok()?]))
            })
            .collect()
    }

    /// WCAG 2.1 contrast ratio of two sRGB colours.
    fn contrast(a: [f64; 3], b: [f64; 3]) -> f64 {
        let luminance = |c: [f64; 3]| {
            let linear = |v: f64| {
                if v <= 0.039_28 {
                    v / 12.92
                } else {
                    ((v + 0.055) / 1.055).powf(2.4)
                }
            };
            0.2126 * linear(c[0]) + 0.7152 * linear(c[1]) + 0.0722 * linear(c[2])
        };
        let (l1, l2) = (luminance(a), luminance(b));
        (l1.max(l2) + 0.05) / (l1.min(l2) + 0.05)
    }

    #[test]
    fn the_stylesheet_colours_meet_wcag_aa_contrast_in_light_and_dark() {
        let light = STYLESHEET.find(":root {").expect("light colours");
        let dark = STYLESHEET
            .find("@media (prefers-color-scheme: dark)")
            .expect("dark");
        for (scheme, start) in [("light", light), ("dark", dark)] {
            let palette = colours(&STYLESHEET[start..]);
            let colour = |name: &str| {
                palette
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, c)| *c)
                    .unwrap_or_else(|| panic!("{scheme}: no --{name}"))
            };
            // Text: 4.5:1 on the page and on cards and buttons (WCAG 1.4.3).
            for text in ["fg", "muted", "link", "ok", "bad", "warn"] {
                for background in ["bg", "card"] {
                    let ratio = contrast(colour(text), colour(background));
                    assert!(
                        ratio >= 4.5,
                        "{scheme}: --{text} on --{background} is {ratio:.2}:1"
                    );
                }
            }
            let marked = contrast(colour("fg"), colour("mark"));
            assert!(marked >= 4.5, "{scheme}: marked words {marked:.2}:1");
            // The focus ring: 3:1 against the page (WCAG 1.4.11).
            let focus = contrast(colour("focus"), colour("bg"));
            assert!(focus >= 3.0, "{scheme}: focus ring {focus:.2}:1");
        }
    }

    #[test]
    fn the_stylesheet_follows_the_reader_colour_scheme_and_shows_focus() {
        assert!(STYLESHEET.contains("@media (prefers-color-scheme: dark)"));
        assert!(STYLESHEET.contains(":focus-visible"));
        assert!(STYLESHEET.contains("hyphens: auto"));
        // Nothing outside our own origin: no @import, no url(…).
        assert!(!STYLESHEET.contains("@import") && !STYLESHEET.contains("url("));
    }
}
