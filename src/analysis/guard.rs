//! The SSRF guard: analysis providers only reach hosts the daemon's configuration allows, so a
//! template cannot turn tidegate into a proxy to cloud metadata endpoints or internal admin
//! APIs.
//!
//! An allow-list (`*.svc`, `prometheus.example.com`, `10.0.0.0/8`, `127.0.0.1/32`) and a URL
//! in, a verdict out: names match names, IP addresses match networks. Because a name can
//! resolve anywhere (an `ExternalName` Service, a hostile DNS record), the HTTP client also
//! resolves names through [`GuardedResolver`], which refuses loopback, link-local (cloud
//! metadata), unspecified and multicast addresses unless an allowed network names them.

use std::net::{IpAddr, SocketAddr};

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Hosts allowed when the configuration names none: in-cluster Services only.
pub const DEFAULT_ALLOWED_HOSTS: [&str; 3] = ["*.svc", "*.svc.cluster.local", "*.cluster.local"];

#[derive(Clone, Debug, PartialEq, Eq)]
enum Pattern {
    Exact(String),
    Suffix(String),
    Network(IpAddr, u8),
}

/// The hosts analysis may reach.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostGuard {
    patterns: Vec<Pattern>,
}

impl Default for HostGuard {
    fn default() -> Self {
        Self::new(&DEFAULT_ALLOWED_HOSTS).expect("the default patterns are valid")
    }
}

impl HostGuard {
    /// A guard allowing `patterns`: `name`, `*.suffix`, `ip` or `ip/prefix`.
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Self, String> {
        let patterns = patterns
            .iter()
            .map(|pattern| parse(pattern.as_ref()))
            .collect::<Result<_, _>>()?;
        Ok(Self { patterns })
    }

    /// Whether a name may lead to `address`: always when an allowed network contains it,
    /// otherwise only when it is not loopback, link-local, unspecified or multicast.
    #[must_use]
    pub fn address_allowed(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        let named = self.patterns.iter().any(|pattern| matches!(pattern, Pattern::Network(network, prefix) if in_network(address, *network, *prefix)));
        named
            || !match address {
                IpAddr::V4(v4) => {
                    v4.is_loopback()
                        || v4.is_link_local()
                        || v4.is_unspecified()
                        || v4.is_multicast()
                        || v4.is_broadcast()
                }
                IpAddr::V6(v6) => {
                    v6.is_loopback()
                        || v6.is_unspecified()
                        || v6.is_multicast()
                        || (v6.segments()[0] & 0xffc0) == 0xfe80
                }
            }
    }

    /// Whether `url` may be requested, or why not.
    pub fn check(&self, url: &str) -> Result<(), String> {
        let parsed = Url::parse(url).map_err(|error| format!("invalid URL {url:?}: {error}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!("{url:?}: only http and https URLs are measured"));
        }
        let host = parsed
            .host_str()
            .unwrap_or_default()
            .trim_matches(['[', ']'])
            .to_ascii_lowercase();
        let address = host
            .parse::<IpAddr>()
            .ok()
            .map(|address| address.to_canonical());
        let allowed = self
            .patterns
            .iter()
            .any(|pattern| match (pattern, address) {
                (Pattern::Network(network, prefix), Some(address)) => {
                    in_network(address, *network, *prefix)
                }
                (Pattern::Exact(name), None) => *name == host,
                (Pattern::Suffix(suffix), None) => {
                    host.ends_with(suffix.as_str()) && host.len() > suffix.len()
                }
                _ => false,
            });
        if allowed {
            Ok(())
        } else {
            Err(format!(
                "host {host:?} is not in the analysis allow-list (analysis.allowedHosts in the daemon's configuration)"
            ))
        }
    }
}

/// Resolves names for analysis requests, keeping only the addresses the guard allows a name
/// to lead to.
#[derive(Clone, Debug)]
pub struct GuardedResolver {
    guard: HostGuard,
}

impl GuardedResolver {
    /// A resolver for `guard`.
    #[must_use]
    pub fn new(guard: HostGuard) -> Self {
        Self { guard }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let guard = self.guard.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|address| guard.address_allowed(address.ip()))
                .collect();
            if allowed.is_empty() {
                return Err(format!("{host} resolves only to addresses analysis may not reach (loopback, link-local or unspecified)").into());
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

fn parse(pattern: &str) -> Result<Pattern, String> {
    let pattern = pattern.trim().to_ascii_lowercase();
    if let Some(suffix) = pattern.strip_prefix('*') {
        if suffix.starts_with('.') && suffix.len() > 1 {
            return Ok(Pattern::Suffix(suffix.to_owned()));
        }
        return Err(format!("{pattern:?}: a wildcard must be a leading \"*.\""));
    }
    let (address, prefix) = pattern
        .split_once('/')
        .map_or((pattern.as_str(), None), |(address, prefix)| {
            (address, Some(prefix))
        });
    if let Ok(address) = address.parse::<IpAddr>() {
        let bits = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => bits,
            Some(prefix) => prefix
                .parse::<u8>()
                .ok()
                .filter(|prefix| *prefix <= bits)
                .ok_or_else(|| format!("{pattern:?}: bad prefix length"))?,
        };
        return Ok(Pattern::Network(address, prefix));
    }
    if prefix.is_some() || pattern.is_empty() || pattern.contains(['/', ':', ' ']) {
        return Err(format!(
            "{pattern:?} is neither a host name, *.suffix, nor an IP network"
        ));
    }
    Ok(Pattern::Exact(pattern))
}

fn in_network(address: IpAddr, network: IpAddr, prefix: u8) -> bool {
    let (address, network, bits) = match (address, network) {
        (IpAddr::V4(address), IpAddr::V4(network)) => (
            u128::from(address.to_bits()),
            u128::from(network.to_bits()),
            32,
        ),
        (IpAddr::V6(address), IpAddr::V6(network)) => (address.to_bits(), network.to_bits(), 128),
        _ => return false,
    };
    if prefix == 0 {
        return true;
    }
    let shift = bits - u32::from(prefix);
    address >> shift == network >> shift
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_allows_in_cluster_services_only() {
        let guard = HostGuard::default();
        assert!(
            guard
                .check("http://prometheus.monitoring.svc:9090/api/v1/query")
                .is_ok()
        );
        assert!(
            guard
                .check("http://prometheus.monitoring.svc.cluster.local:9090")
                .is_ok()
        );
        for refused in [
            "http://169.254.169.254/latest/meta-data",
            "http://127.0.0.1:9090",
            "https://example.com",
            "http://svc",
            "file:///etc/passwd",
        ] {
            assert!(guard.check(refused).is_err(), "{refused}");
        }
        assert_eq!(
            guard.check("http://169.254.169.254/x").unwrap_err(),
            "host \"169.254.169.254\" is not in the analysis allow-list (analysis.allowedHosts in the daemon's configuration)"
        );
    }

    #[test]
    fn names_suffixes_and_networks() {
        let guard = HostGuard::new(&[
            "prometheus.example.com",
            "*.internal",
            "10.0.0.0/8",
            "127.0.0.1",
            "fd00::/8",
        ])
        .unwrap();
        assert!(guard.check("https://Prometheus.example.com/q").is_ok());
        assert!(guard.check("https://a.b.internal/").is_ok());
        assert!(guard.check("http://10.20.30.40:80/").is_ok());
        assert!(guard.check("http://127.0.0.1:9090/").is_ok());
        assert!(guard.check("http://[fd12::1]:80/").is_ok());
        assert!(guard.check("http://127.0.0.2/").is_err());
        assert!(guard.check("http://11.0.0.1/").is_err());
        assert!(guard.check("https://evil.example.com/").is_err());
        assert!(guard.check("https://internal/").is_err());
    }

    #[test]
    fn names_never_lead_to_metadata_or_loopback_unless_a_network_allows_it() {
        let guard = HostGuard::default();
        for refused in [
            "169.254.169.254",
            "127.0.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "::ffff:169.254.169.254",
            "224.0.0.1",
        ] {
            assert!(
                !guard.address_allowed(refused.parse().unwrap()),
                "{refused}"
            );
        }
        assert!(guard.address_allowed("10.96.0.10".parse().unwrap()));
        let loopback = HostGuard::new(&["127.0.0.1/32"]).unwrap();
        assert!(loopback.address_allowed("127.0.0.1".parse().unwrap()));
        assert!(
            loopback.check("http://[::ffff:127.0.0.1]:9090/").is_ok(),
            "IPv4-mapped addresses are the IPv4 address"
        );
        assert!(
            HostGuard::new(&["::/0"])
                .unwrap()
                .check("http://[::ffff:169.254.169.254]/")
                .is_err()
        );
    }

    #[tokio::test]
    async fn the_resolver_drops_forbidden_addresses() {
        let resolver = GuardedResolver::new(HostGuard::default());
        let refused = resolver.resolve("localhost".parse().unwrap()).await;
        assert!(refused.is_err());
        let allowed = GuardedResolver::new(HostGuard::new(&["127.0.0.1/32", "::1/128"]).unwrap());
        let addresses: Vec<SocketAddr> = allowed
            .resolve("localhost".parse().unwrap())
            .await
            .unwrap()
            .collect();
        assert!(!addresses.is_empty());
    }

    #[test]
    fn bad_patterns_are_refused() {
        assert!(HostGuard::new(&["10.0.0.0/33"]).is_err());
        assert!(HostGuard::new(&["*internal"]).is_err());
        assert!(HostGuard::new(&["http://x"]).is_err());
    }
}
