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

    #[test]
    fn the_stylesheet_follows_the_reader_colour_scheme_and_shows_focus() {
        assert!(STYLESHEET.contains("@media (prefers-color-scheme: dark)"));
        assert!(STYLESHEET.contains(":focus-visible"));
        assert!(STYLESHEET.contains("hyphens: auto"));
        // Nothing outside our own origin: no @import, no url(…).
        assert!(!STYLESHEET.contains("@import") && !STYLESHEET.contains("url("));
    }
}
