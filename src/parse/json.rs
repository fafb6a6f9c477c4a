//! JSON Feed leniency: version 1.0 (`http://jsonfeed.org/version/1`) as well as 1.1, `tags` given
//! as one comma-separated string, and 1.0's `author` object where 1.1 has an `authors` array;
//! and each item's `language`, which feed-rs does not read.

use serde_json::Value;

/// What one read of a JSON Feed gives besides feed-rs's own parse.
#[derive(Debug, Default)]
pub struct JsonFeedReading {
    /// The document in the form feed-rs reads, or `None` when it needs nothing.
    pub rewritten: Option<Vec<u8>>,
    /// Each item's own `language` (JSON Feed 1.1), in document order; feed-rs reads only the
    /// feed's. Empty when no item has one.
    pub item_languages: Vec<Option<String>>,
}

/// Reads `body` once for [`JsonFeedReading`].
pub fn read_json_feed(body: &[u8]) -> JsonFeedReading {
    let Ok(mut feed) = serde_json::from_slice::<Value>(body) else {
        return JsonFeedReading::default();
    };
    let item_languages = item_languages(&feed);
    JsonFeedReading {
        rewritten: rewritten(&mut feed),
        item_languages,
    }
}

fn item_languages(feed: &Value) -> Vec<Option<String>> {
    let Some(items) = feed.get("items").and_then(Value::as_array) else {
        return Vec::new();
    };
    let languages: Vec<Option<String>> = items
        .iter()
        .map(|item| {
            item.get("language")
                .and_then(Value::as_str)
                .map(String::from)
        })
        .collect();
    if languages.iter().all(Option::is_none) {
        return Vec::new();
    }
    languages
}

fn rewritten(feed: &mut Value) -> Option<Vec<u8>> {
    let object = feed.as_object_mut()?;
    let mut changed = false;
    if let Some(Value::String(version)) = object.get_mut("version") {
        if let Some(rest) = version.strip_prefix("http://jsonfeed.org/version/") {
            *version = format!("https://jsonfeed.org/version/{rest}");
            changed = true;
        }
    }
    changed |= author_to_authors(object);
    if let Some(Value::Array(items)) = object.get_mut("items") {
        for item in items.iter_mut().filter_map(Value::as_object_mut) {
            changed |= author_to_authors(item);
            if let Some(Value::String(tags)) = item.get("tags") {
                let list: Vec<Value> = tags
                    .split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(|t| Value::String(t.to_string()))
                    .collect();
                item.insert("tags".into(), Value::Array(list));
                changed = true;
            }
        }
    }
    if changed {
        serde_json::to_vec(feed).ok()
    } else {
        None
    }
}

fn author_to_authors(object: &mut serde_json::Map<String, Value>) -> bool {
    if object.contains_key("authors") {
        return false;
    }
    match object.remove("author") {
        Some(author @ Value::Object(_)) => {
            object.insert("authors".into(), Value::Array(vec![author]));
            true
        }
        Some(Value::String(name)) => {
            object.insert("authors".into(), serde_json::json!([{ "name": name }]));
            true
        }
        Some(other) => {
            object.insert("author".into(), other);
            false
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_1_tags_string_and_author_are_normalized() {
        let doc = br#"{"version":"http://jsonfeed.org/version/1","title":"t","author":{"name":"A"},
            "items":[{"id":"1","content_text":"x","tags":"workflow, omnifocus","author":{"name":"B"}}]}"#;
        let fixed: Value =
            serde_json::from_slice(&read_json_feed(doc).rewritten.expect("changed")).expect("json");
        assert_eq!(fixed["version"], "https://jsonfeed.org/version/1");
        assert_eq!(fixed["authors"][0]["name"], "A");
        assert_eq!(
            fixed["items"][0]["tags"],
            serde_json::json!(["workflow", "omnifocus"])
        );
        assert_eq!(fixed["items"][0]["authors"][0]["name"], "B");
        assert!(fixed["items"][0].get("author").is_none());
    }

    #[test]
    fn a_clean_1_1_feed_is_left_alone() {
        let doc = br#"{"version":"https://jsonfeed.org/version/1.1","title":"t","items":[]}"#;
        assert!(read_json_feed(doc).rewritten.is_none());
    }
}
