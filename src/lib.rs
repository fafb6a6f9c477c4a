//! Tributary: a feed aggregator daemon. Polls RSS, Atom and JSON Feed sources, stores their
//! entries once in SQLite, and republishes merged per-topic feeds.
//!
//! Data flows one way: config → scheduler → fetch → parse → normalize → store → publish → serve.

pub mod app;
pub mod cli;
pub mod config;
pub mod cycle;
pub mod dedup;
pub mod fetch;
pub mod files;
pub mod metrics;
pub mod model;
pub mod normalize;
pub mod opml;
pub mod parse;
pub mod pipeline;
pub mod publish;
pub mod scheduler;
pub mod server;
pub mod store;
pub mod systemd;
pub mod text;
pub mod topics;
pub mod websub;
