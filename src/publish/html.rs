//! The HTML index at `/`: every topic with subscribe links and autodiscovery tags. No JavaScript.

use super::Format;
use crate::text::escape_html;

pub struct IndexTopic {
    pub slug: String,
    pub title: String,
    pub description: Option<String>,
    pub entries: u64,
}

/// `base_url` ends with `/`.
pub fn render_index(base_url: &str, topics: &[IndexTopic]) -> String {
    let mut head_links = String::new();
    let mut body = String::new();
    for topic in topics {
        let slug = escape_html(&topic.slug);
        let title = escape_html(&topic.title);
        for format in Format::ALL {
            head_links.push_str(&format!(
                "<link rel=\"alternate\" type=\"{}\" title=\"{title} ({})\" href=\"{}topics/{slug}.{}\">\n",
                format.bare_media_type(),
                format.label(),
                escape_html(base_url),
                format.extension()
            ));
        }
        body.push_str(&format!("<li><h2>{title}</h2>\n"));
        if let Some(d) = &topic.description {
            body.push_str(&format!("<p>{}</p>\n", escape_html(d)));
        }
        body.push_str(&format!("<p>{} entries · subscribe:", topic.entries));
        for format in Format::ALL {
            body.push_str(&format!(
                " <a href=\"{}topics/{slug}.{}\">{}</a>",
                escape_html(base_url),
                format.extension(),
                format.label()
            ));
        }
        body.push_str("</p></li>\n");
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Tributary</title>\n{head_links}</head>\n<body>\n<h1>Tributary</h1>\n\
         <p>Merged news feeds. Subscribe to a topic in any feed reader.</p>\n<ul>\n{body}</ul>\n</body>\n</html>\n"
    )
}
