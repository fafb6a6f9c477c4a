//! DNS for the fetcher, with the SSRF guard applied to every answer at connect time. Because
//! reqwest asks the resolver for each new connection, a name that resolves to a public address
//! when first checked and to a private one later (DNS rebinding) is still refused.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::guard;

/// A refused destination; found again in reqwest's error chain to report it as such.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// A name that did not resolve.
#[derive(Debug, thiserror::Error)]
#[error("DNS lookup of {host} failed: {reason}")]
pub struct DnsFailure {
    pub host: String,
    pub reason: String,
}

#[derive(Clone, Default)]
pub struct GuardedResolver {
    /// Refuse non-public addresses (false when private networks are allowed).
    pub guard: bool,
    /// Addresses accepted even though they are not public (tests serve from loopback).
    pub allowlist: Arc<Vec<IpAddr>>,
    /// Fixed answers for names, consulted before the system resolver (tests).
    pub overrides: Arc<HashMap<String, Vec<IpAddr>>>,
}

impl GuardedResolver {
    /// Why `ip` may not be connected to, when it may not.
    pub fn check(&self, ip: IpAddr) -> Result<(), Refused> {
        if !self.guard || self.allowlist.contains(&ip) {
            return Ok(());
        }
        match guard::forbidden(ip) {
            Some(why) => Err(Refused(guard::refusal(ip, why))),
            None => Ok(()),
        }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let this = self.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> = match this.overrides.get(&host) {
                Some(ips) => ips.iter().map(|ip| SocketAddr::new(*ip, 0)).collect(),
                None => tokio::net::lookup_host((host.as_str(), 0))
                    .await
                    .map_err(|e| DnsFailure {
                        host: host.clone(),
                        reason: e.to_string(),
                    })?
                    .collect(),
            };
            let mut allowed = Vec::with_capacity(found.len());
            let mut refused = None;
            for addr in found {
                match this.check(addr.ip()) {
                    Ok(()) => allowed.push(addr),
                    Err(e) => {
                        refused.get_or_insert(e);
                    }
                }
            }
            if allowed.is_empty() {
                let error: Box<dyn std::error::Error + Send + Sync> = match refused {
                    Some(r) => Box::new(r),
                    None => Box::new(DnsFailure {
                        host,
                        reason: "no addresses".into(),
                    }),
                };
                return Err(error);
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}
