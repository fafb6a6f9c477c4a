//! Canonical URLs, for matching only (output keeps links as published): lowercase scheme and host,
//! no default port, no fragment, no tracking parameters, the remaining query parameters sorted,
//! and percent-escapes of unreserved characters decoded (RFC 3986 §6.2.2).

use url::Url;

/// Query parameters that only track where a click came from. Names ending in `*` are prefixes.
/// Operators add to this list with `[dedup] tracking_params` in feeds.toml.
pub const TRACKING_PARAMS: &[&str] = &[
    "utm_*",
    "fbclid",
    // Zalo, the messenger most Vietnamese readers share links through.
    "gidzl",
    "gclid",
    "gclsrc",
    "dclid",
    "gbraid",
    "wbraid",
    "msclkid",
    "mc_cid",
    "mc_eid",
    "yclid",
    "igshid",
    "_ga",
    "_gl",
    "_hsenc",
    "_hsmi",
    "mkt_tok",
    "ref_src",
    "ref_url",
    "oly_anon_id",
    "oly_enc_id",
    "rb_clickid",
    "s_cid",
    "vero_conv",
    "vero_id",
    "wickedid",
    "twclid",
    "ttclid",
    "srsltid",
    "cmpid",
    "ncid",
    "sr_share",
    "at_medium",
    "at_campaign",
    "wt_mc",
    "wt.mc_id",
    "xtor",
];

fn is_tracking(name: &str, extra: &[String]) -> bool {
    let name = name.to_ascii_lowercase();
    let matches = |pattern: &str| match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => name == pattern,
    };
    TRACKING_PARAMS.iter().any(|p| matches(p))
        || extra.iter().any(|p| matches(&p.to_ascii_lowercase()))
}

/// The canonical form of `link`, or `None` when it is not an http(s) URL.
pub fn canonical_url(link: &str, extra_tracking: &[String]) -> Option<String> {
    let mut url = Url::parse(link.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    url.set_fragment(None);
    let mut params: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !is_tracking(k, extra_tracking))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    params.sort();
    if params.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(params);
    }
    let path = decode_unreserved(url.path());
    url.set_path(&path);
    let mut text: String = url.into();
    // "http://host" and "http://host/" are one address.
    if text.ends_with('/') && text.matches('/').count() == 3 {
        text.pop();
    }
    Some(text)
}

/// Decodes `%XX` escapes of unreserved characters (ALPHA, DIGIT, `-`, `.`, `_`, `~`), and
/// upper-cases the hex digits of the others.
fn decode_unreserved(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = &path[i + 1..i + 3];
            if let Ok(value) = u8::from_str_radix(hex, 16) {
                if value.is_ascii_alphanumeric() || matches!(value, b'-' | b'.' | b'_' | b'~') {
                    out.push(value as char);
                } else {
                    out.push('%');
                    out.push_str(&hex.to_ascii_uppercase());
                }
                i += 3;
                continue;
            }
        }
        out.push(bytes[i] as char);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(link: &str) -> Option<String> {
        canonical_url(link, &[])
    }

    #[test]
    fn variants_of_one_address_agree() {
        let want = Some("https://news.example.vn/a/b.html?id=7&page=2".to_string());
        for link in [
            "https://news.example.vn/a/b.html?id=7&page=2",
            "HTTPS://News.Example.VN:443/a/b.html?page=2&id=7",
            "https://news.example.vn/a/b.html?utm_source=rss&id=7&utm_medium=feed&page=2#comments",
            "https://news.example.vn/a/b.html?id=7&fbclid=abc&page=2&gclid=x&mc_cid=1&_ga=2",
            "https://news.example.vn/a/b.html?gidzl=Xk2a_9&id=7&page=2",
            "https://news.example.vn/%61/b.html?id=7&page=2",
        ] {
            assert_eq!(c(link), want, "{link}");
        }
    }

    #[test]
    fn meaningful_differences_stay() {
        assert_ne!(c("https://a.example/x?id=1"), c("https://a.example/x?id=2"));
        assert_ne!(c("https://a.example/x"), c("https://a.example/y"));
        assert_eq!(
            c("https://a.example/caf%c3%a9"),
            Some("https://a.example/caf%C3%A9".into())
        );
        assert_eq!(c("http://a.example"), c("http://a.example/"));
        assert_eq!(c("mailto:x@example.com"), None);
    }

    #[test]
    fn operators_extend_the_list() {
        let extra = vec!["src".to_string(), "ito_*".to_string()];
        assert_eq!(
            canonical_url("https://a.example/x?src=rss&ito_x=1&id=3", &extra),
            Some("https://a.example/x?id=3".into())
        );
    }
}
