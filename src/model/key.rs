//! How a source tells its entries apart: the key a sighting is stored under.

use std::fmt;

/// What an [`EntryKey`] was made from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// The publisher's guid (RSS) or id (Atom, JSON Feed).
    Guid,
    /// The entry's canonical link.
    Link,
    /// A hash of the entry's title and text.
    Content,
}

impl KeyKind {
    const fn prefix(self) -> &'static str {
        match self {
            KeyKind::Guid => "guid:",
            KeyKind::Link => "link:",
            KeyKind::Content => "hash:",
        }
    }
}

/// An entry's identity within its source. Held in its stored form (`guid:…`, `link:…`,
/// `hash:…`), which is what the database and tombstones keep, so that reading and writing keys
/// costs no conversion; the form is only ever made and read here.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntryKey(String);

impl EntryKey {
    pub fn new(kind: KeyKind, value: &str) -> EntryKey {
        EntryKey(format!("{}{value}", kind.prefix()))
    }

    pub fn guid(value: &str) -> EntryKey {
        EntryKey::new(KeyKind::Guid, value)
    }

    pub fn link(canonical_url: &str) -> EntryKey {
        EntryKey::new(KeyKind::Link, canonical_url)
    }

    pub fn content(hash: &str) -> EntryKey {
        EntryKey::new(KeyKind::Content, hash)
    }

    /// A key as the store keeps it. Keys are only written from [`EntryKey::new`], so every stored
    /// key has a known kind; one that does not (a damaged row) reads as a content key, the kind
    /// that claims least (it never counts as guid churn).
    pub fn from_stored(stored: String) -> EntryKey {
        EntryKey(stored)
    }

    pub fn kind(&self) -> KeyKind {
        [KeyKind::Guid, KeyKind::Link]
            .into_iter()
            .find(|k| self.0.starts_with(k.prefix()))
            .unwrap_or(KeyKind::Content)
    }

    /// The same key told apart from an earlier entry of the same document that has it, by the
    /// entry's position: `guid:x` becomes `guid:x#3`, still a guid key.
    pub fn at_position(&self, position: usize) -> EntryKey {
        EntryKey(format!("{}#{position}", self.0))
    }

    /// The stored form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EntryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for EntryKey {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for EntryKey {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_keys_keep_their_kind_through_the_stored_form() {
        for (key, kind, stored) in [
            (EntryKey::guid("abc"), KeyKind::Guid, "guid:abc"),
            (
                EntryKey::link("https://x.example/a"),
                KeyKind::Link,
                "link:https://x.example/a",
            ),
            (EntryKey::content("0f3a"), KeyKind::Content, "hash:0f3a"),
            (
                EntryKey::guid("abc").at_position(3),
                KeyKind::Guid,
                "guid:abc#3",
            ),
            // A guid that looks like another kind's form stays a guid.
            (EntryKey::guid("link:x"), KeyKind::Guid, "guid:link:x"),
        ] {
            assert_eq!(key.kind(), kind, "{key}");
            assert_eq!(key.as_str(), stored);
            let back = EntryKey::from_stored(stored.to_string());
            assert_eq!(back, key);
            assert_eq!(back.kind(), kind);
        }
        assert_eq!(
            EntryKey::from_stored("damaged".into()).kind(),
            KeyKind::Content
        );
    }
}
