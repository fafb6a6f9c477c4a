//! Content codings of a rendered page: which one a client accepts (`Accept-Encoding`, RFC 9110
//! §12.5.3) and the compressed bodies, made once per render. Knows nothing of topics or caches.

use axum::http::HeaderValue;

/// A content coding we can send, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Brotli,
    Gzip,
    Identity,
}

impl Coding {
    /// Every coding, in order of preference (smallest body first).
    pub const ALL: [Coding; 3] = [Coding::Brotli, Coding::Gzip, Coding::Identity];

    pub fn index(self) -> usize {
        match self {
            Coding::Brotli => 0,
            Coding::Gzip => 1,
            Coding::Identity => 2,
        }
    }

    /// The `Content-Encoding` value; `None` for identity, which is sent without one.
    pub fn content_encoding(self) -> Option<HeaderValue> {
        match self {
            Coding::Brotli => Some(HeaderValue::from_static("br")),
            Coding::Gzip => Some(HeaderValue::from_static("gzip")),
            Coding::Identity => None,
        }
    }

    /// What the coding adds to the page's ETag: each coding is a different representation and
    /// needs its own strong validator (RFC 9110 §8.8.3.3).
    pub fn etag_suffix(self) -> &'static str {
        match self {
            Coding::Brotli => "-br",
            Coding::Gzip => "-gz",
            Coding::Identity => "",
        }
    }
}

/// The coding to answer with: the client's most preferred by q-value among those we have, ties
/// going to the smaller body. `q=0` refuses a coding; `*` stands for any coding not named; a
/// request without the header gets identity. When every coding is refused, identity is sent
/// anyway (RFC 9110 §12.5.3 allows it, and a body beats a 406 for a feed reader).
pub fn negotiate(accept_encoding: Option<&HeaderValue>) -> Coding {
    let Some(text) = accept_encoding.and_then(|v| v.to_str().ok()) else {
        return Coding::Identity;
    };
    // q-values in thousandths; None = not mentioned.
    let mut brotli = None;
    let mut gzip = None;
    let mut identity = None;
    let mut any = None;
    for item in text.split(',') {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or("").trim();
        if name.is_empty() {
            continue;
        }
        let mut q = 1000;
        for param in parts {
            if let Some((key, value)) = param.split_once('=')
                && key.trim().eq_ignore_ascii_case("q")
            {
                q = parse_qvalue(value.trim()).unwrap_or(0);
            }
        }
        let slot = if name.eq_ignore_ascii_case("br") {
            &mut brotli
        } else if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip") {
            &mut gzip
        } else if name.eq_ignore_ascii_case("identity") {
            &mut identity
        } else if name == "*" {
            &mut any
        } else {
            continue;
        };
        *slot = Some(q);
    }
    // Identity is acceptable unless refused explicitly or through `*;q=0` (§12.5.3).
    let weights = [
        brotli.or(any).unwrap_or(0),
        gzip.or(any).unwrap_or(0),
        identity.or(any).unwrap_or(1),
    ];
    let mut best = Coding::Identity;
    let mut best_q = 0;
    for coding in Coding::ALL {
        let q = weights[coding.index()];
        if q > best_q {
            best = coding;
            best_q = q;
        }
    }
    best
}

/// RFC 9110 §12.4.2: `0`, `0.xxx`, `1` or `1.000`, in thousandths.
fn parse_qvalue(text: &str) -> Option<u32> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = fraction
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(3)
        .fold(0, |n, b| n * 10 + u32::from(b - b'0'));
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// The body compressed with `coding`. Compressing into memory cannot fail short of running out of
/// it; should it, the caller gets `None` and serves the page uncompressed.
///
/// A page is compressed when a request misses the render cache, while that request (and any
/// waiting for the same page) waits, so both codings use fast levels, not the smallest output:
/// gzip 6 and brotli 5 run several times faster than gzip 9 and brotli 9 for a few percent more
/// bytes, which matters most for the largest pages, where the best levels cost seconds.
pub fn compress(coding: Coding, body: &[u8]) -> Option<Vec<u8>> {
    use std::io::Write;
    match coding {
        Coding::Identity => Some(body.to_vec()),
        Coding::Gzip => {
            let mut encoder = flate2::write::GzEncoder::new(
                Vec::with_capacity(body.len() / 4),
                flate2::Compression::new(GZIP_LEVEL),
            );
            encoder.write_all(body).ok()?;
            encoder.finish().ok()
        }
        Coding::Brotli => {
            let mut out = Vec::with_capacity(body.len() / 4);
            let params = brotli::enc::BrotliEncoderParams {
                quality: BROTLI_QUALITY,
                lgwin: 22,
                ..Default::default()
            };
            brotli::BrotliCompress(&mut &body[..], &mut out, &params).ok()?;
            Some(out)
        }
    }
}

/// zlib's own default: the usual balance of speed and size.
const GZIP_LEVEL: u32 = 6;
/// The fastest of brotli's levels that search for matches over the whole window (0 to 4 use
/// simpler, much weaker match finders).
const BROTLI_QUALITY: i32 = 5;

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(header: &str) -> Coding {
        negotiate(Some(&HeaderValue::from_str(header).expect("header")))
    }

    #[test]
    fn prefers_brotli_then_gzip_then_identity() {
        assert_eq!(negotiate(None), Coding::Identity);
        assert_eq!(pick("gzip, deflate, br"), Coding::Brotli);
        assert_eq!(pick("gzip, deflate"), Coding::Gzip);
        assert_eq!(pick("deflate"), Coding::Identity);
        assert_eq!(pick(""), Coding::Identity);
        assert_eq!(pick("*"), Coding::Brotli);
        assert_eq!(pick("GZIP"), Coding::Gzip);
    }

    #[test]
    fn q_values_order_and_refuse() {
        assert_eq!(pick("br;q=0.5, gzip;q=0.8"), Coding::Gzip);
        assert_eq!(pick("br;q=0, gzip"), Coding::Gzip);
        assert_eq!(pick("br; q=0.000, gzip;q=0"), Coding::Identity);
        assert_eq!(pick("br;q=1.0, gzip;q=1"), Coding::Brotli);
        assert_eq!(pick("*;q=0.1, gzip;q=0"), Coding::Brotli);
        assert_eq!(pick("identity;q=0.5, gzip;q=0.4"), Coding::Identity);
        assert_eq!(
            pick("br;q=2"),
            Coding::Identity,
            "an invalid q-value refuses"
        );
        assert_eq!(
            pick("identity;q=0, *;q=0"),
            Coding::Identity,
            "nothing acceptable: identity anyway"
        );
    }

    #[test]
    fn compressed_bodies_decode_to_the_original() {
        use std::io::Read;
        let body = "<feed>entry entry entry</feed>".repeat(200).into_bytes();
        let gz = compress(Coding::Gzip, &body).expect("gzip");
        assert!(gz.len() < body.len());
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut back)
            .expect("gunzip");
        assert_eq!(back, body);
        let br = compress(Coding::Brotli, &body).expect("brotli");
        let mut back = Vec::new();
        brotli::Decompressor::new(&br[..], 4096)
            .read_to_end(&mut back)
            .expect("unbrotli");
        assert_eq!(back, body);
    }

    #[test]
    fn a_miss_compresses_at_fast_levels_not_maximum_effort() {
        let body: Vec<u8> = (0..2000)
            .flat_map(|i| {
                format!(
                    "<entry><id>urn:{i}</id><title>Story {}</title></entry>",
                    i % 97
                )
                .into_bytes()
            })
            .collect();
        let gz = compress(Coding::Gzip, &body).expect("gzip");
        // RFC 1952 §2.3.1: XFL is 2 when the compressor used its slowest, best level.
        assert_ne!(gz[8], 2, "gzip at maximum effort");
        let br = compress(Coding::Brotli, &body).expect("brotli");
        let mut best = Vec::new();
        let params = brotli::enc::BrotliEncoderParams {
            quality: 9,
            lgwin: 22,
            ..Default::default()
        };
        brotli::BrotliCompress(&mut &body[..], &mut best, &params).expect("brotli 9");
        assert_ne!(br, best, "brotli at quality 9");
    }
}
