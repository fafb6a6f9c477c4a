//! What the operator wrote, checked for form only. Every value keeps its span so that the second
//! phase can point at the line and column of a value that is well-formed but wrong.

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub server: Option<RawServer>,
    pub storage: Option<RawStorage>,
    pub fetch: Option<RawFetch>,
    pub dedup: Option<RawDedup>,
    pub cluster: Option<RawCluster>,
    #[serde(default)]
    pub source: Vec<RawSource>,
    #[serde(default)]
    pub topic: Vec<RawTopic>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub listen: Option<Spanned<String>>,
    pub base_url: Option<Spanned<String>>,
    pub websub_hub: Option<Spanned<String>>,
    pub cache_max_age: Option<Spanned<u32>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStorage {
    pub url: Option<Spanned<String>>,
    pub path: Option<Spanned<String>>,
    pub retention: Option<Spanned<String>>,
    pub max_entries_per_source: Option<Spanned<u32>>,
    pub max_entry_size: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFetch {
    pub interval: Option<Spanned<String>>,
    pub timeout: Option<Spanned<String>>,
    pub concurrency: Option<Spanned<u32>>,
    pub max_body: Option<Spanned<String>>,
    pub user_agent: Option<Spanned<String>>,
    pub allow_private_networks: Option<bool>,
    pub min_interval: Option<Spanned<String>>,
    pub max_interval: Option<Spanned<String>>,
    pub per_host: Option<Spanned<u32>>,
    pub host_delay: Option<Spanned<String>>,
    pub proxy: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSource {
    pub url: Spanned<String>,
    pub title: Option<String>,
    pub topics: Option<Vec<Spanned<String>>>,
    pub interval: Option<Spanned<String>>,
    pub allow_private: Option<bool>,
    pub identity: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDedup {
    pub tracking_params: Option<Vec<Spanned<String>>>,
    pub near_duplicate_threshold: Option<Spanned<f64>>,
    pub window: Option<Spanned<String>>,
    pub origins: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTopic {
    pub slug: Spanned<String>,
    pub title: Spanned<String>,
    pub description: Option<String>,
    pub all_sources: Option<bool>,
    pub filter: Option<Spanned<RawTopicFilter>>,
    pub languages: Option<Vec<Spanned<String>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTopicFilter {
    pub any: Option<Vec<Spanned<String>>>,
    pub none: Option<Vec<Spanned<String>>>,
    pub regex: Option<Spanned<String>>,
    pub categories: Option<Vec<Spanned<String>>>,
    pub languages: Option<Vec<Spanned<String>>>,
    pub authors: Option<Vec<Spanned<String>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCluster {
    pub node: Option<Spanned<String>>,
}
