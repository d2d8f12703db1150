//! The SSRF guard: analysis providers only reach hosts the daemon's configuration allows, so a
//! template cannot turn tidegate into a proxy to cloud metadata endpoints or internal admin
//! APIs.
//!
//! An allow-list (`*.svc`, `prometheus.example.com`, `10.0.0.0/8`, `127.0.0.1/32`) and a URL
//! in, a verdict out: names match names, IP addresses match networks. Because a name can
//! resolve anywhere (an `ExternalName` Service, a hostile DNS record), the HTTP client also
//! resolves names through [`GuardedResolver`], which refuses a name when any of its addresses
//! is in a [`refused`] range (loopback, link-local and carrier-grade NAT — where cloud
//! metadata lives — unique-local and NAT64 IPv6, unspecified, multicast), unless an allowed
//! network names that address. The Kubernetes API (`kubernetes.default.svc`) is refused too
//! unless allowed by its exact name.

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
    /// otherwise only when it is in none of the [`refused`] ranges.
    #[must_use]
    pub fn address_allowed(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        let named = self.patterns.iter().any(|pattern| matches!(pattern, Pattern::Network(network, prefix) if in_network(address, *network, *prefix)));
        named || refused(address).is_none()
    }

    /// The addresses a name may be connected to, or why the name is refused: every one
    /// of its addresses must be allowed, so a name that also resolves to a metadata
    /// endpoint (directly, or through an `ExternalName` Service's CNAME, which the resolver
    /// follows) is refused whole.
    pub fn judge_resolved(&self, host: &str, found: &[IpAddr]) -> Result<Vec<IpAddr>, String> {
        if found.is_empty() {
            return Err(format!("{host} does not resolve"));
        }
        if let Some(bad) = found
            .iter()
            .find(|address| !self.address_allowed(**address))
        {
            let range = refused(canonical(*bad)).unwrap_or("refused");
            return Err(format!(
                "{host} resolves to {bad} ({range}), which analysis may not reach unless analysis.allowedHosts names its network"
            ));
        }
        Ok(found.to_vec())
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
        let address = host.parse::<IpAddr>().ok().map(canonical);
        let named_exactly = self
            .patterns
            .iter()
            .any(|pattern| matches!(pattern, Pattern::Exact(name) if *name == host));
        if DENIED_UNLESS_NAMED.contains(&host.as_str()) && !named_exactly {
            return Err(format!(
                "host {host:?} is the Kubernetes API: analysis may reach it only when analysis.allowedHosts names it exactly"
            ));
        }
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
            let found: Vec<IpAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .map(|address| address.ip())
                .collect();
            let allowed = guard.judge_resolved(&host, &found)?;
            let addresses = allowed.into_iter().map(|ip| SocketAddr::new(ip, 0));
            Ok(Box::new(addresses) as Addrs)
        })
    }
}

/// Names of the Kubernetes API inside a cluster: never an analysis target unless allowed by
/// exact name (a template could otherwise use the daemon's network position against it).
const DENIED_UNLESS_NAMED: [&str; 4] = [
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
];

/// `address` as the network sees it: IPv4-mapped (`::ffff:a.b.c.d`) and IPv4-compatible
/// (`::a.b.c.d`) IPv6 addresses are their IPv4 address.
fn canonical(address: IpAddr) -> IpAddr {
    match address.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = v6.to_bits();
            if bits >> 32 == 0 && bits > 1 {
                #[allow(clippy::cast_possible_truncation)] // the low 32 bits, on purpose
                let v4 = std::net::Ipv4Addr::from_bits(bits as u32);
                IpAddr::V4(v4)
            } else {
                IpAddr::V6(v6)
            }
        }
        v4 @ IpAddr::V4(_) => v4,
    }
}

/// Which range a name may not lead to `address` (canonical) is in: loopback, link-local
/// (cloud metadata: 169.254.169.254), CGNAT (Alibaba's metadata 100.100.100.200),
/// unspecified, multicast, broadcast; for IPv6 also unique-local (AWS's metadata
/// `fd00:ec2::254`), site-local and NAT64 (which reaches any IPv4 address).
#[must_use]
pub fn refused(address: IpAddr) -> Option<&'static str> {
    let in_range = |network: &str, prefix: u8| {
        in_network(
            address,
            network.parse().expect("the ranges are written correctly"),
            prefix,
        )
    };
    let ranges: [(&str, u8, &'static str); 13] = [
        ("0.0.0.0", 8, "unspecified"),
        ("127.0.0.0", 8, "loopback"),
        ("169.254.0.0", 16, "link-local"),
        ("100.64.0.0", 10, "carrier-grade NAT"),
        ("224.0.0.0", 4, "multicast"),
        ("255.255.255.255", 32, "broadcast"),
        ("::", 128, "unspecified"),
        ("::1", 128, "loopback"),
        ("fe80::", 10, "link-local"),
        ("fec0::", 10, "site-local"),
        ("fc00::", 7, "unique-local"),
        ("ff00::", 8, "multicast"),
        ("64:ff9b::", 96, "NAT64"),
    ];
    if in_range("64:ff9b:1::", 48) {
        return Some("NAT64");
    }
    ranges
        .iter()
        .find(|(network, prefix, _)| in_range(network, *prefix))
        .map(|(_, _, name)| *name)
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
        // Found by cargo-mutants (`>` → `>=`): the suffix itself names no host under it.
        assert!(guard.check("https://.internal/").is_err());
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

    #[test]
    fn every_metadata_and_internal_range_is_refused_whatever_its_spelling() {
        let guard = HostGuard::default();
        let table = [
            ("169.254.169.254", Some("link-local")),
            ("100.100.100.200", Some("carrier-grade NAT")),
            ("100.64.0.1", Some("carrier-grade NAT")),
            ("fd00:ec2::254", Some("unique-local")),
            ("fc00::1", Some("unique-local")),
            ("64:ff9b::a9fe:a9fe", Some("NAT64")),
            ("64:ff9b:1::1", Some("NAT64")),
            ("::ffff:169.254.169.254", Some("link-local")),
            ("::169.254.169.254", Some("link-local")),
            ("::127.0.0.1", Some("loopback")),
            ("::1", Some("loopback")),
            ("::", Some("unspecified")),
            ("fec0::1", Some("site-local")),
            ("fe80::1", Some("link-local")),
            ("ff02::1", Some("multicast")),
            ("255.255.255.255", Some("broadcast")),
            ("10.96.0.10", None),
            ("172.20.0.5", None),
            ("192.168.1.10", None),
            ("100.63.255.255", None),
            ("2001:db8::1", None),
        ];
        for (address, range) in table {
            let address: IpAddr = address.parse().unwrap();
            assert_eq!(refused(canonical(address)), range, "{address}");
            assert_eq!(guard.address_allowed(address), range.is_none(), "{address}");
        }
    }

    #[test]
    fn a_name_is_refused_when_any_of_its_addresses_is() {
        let guard = HostGuard::default();
        let addresses = |list: &[&str]| -> Vec<IpAddr> {
            list.iter()
                .map(|address| address.parse().unwrap())
                .collect()
        };
        let table: [(&str, &[&str], bool); 6] = [
            ("prometheus.monitoring.svc", &["10.96.0.10"], true),
            // An ExternalName Service's CNAME, followed by the resolver, to the metadata.
            ("metadata.monitoring.svc", &["169.254.169.254"], false),
            (
                "rebind.monitoring.svc",
                &["10.96.0.10", "169.254.169.254"],
                false,
            ),
            ("aws.monitoring.svc", &["fd00:ec2::254"], false),
            ("nat64.monitoring.svc", &["64:ff9b::a9fe:a9fe"], false),
            ("gone.monitoring.svc", &[], false),
        ];
        for (host, found, allowed) in table {
            let verdict = guard.judge_resolved(host, &addresses(found));
            assert_eq!(verdict.is_ok(), allowed, "{host}: {verdict:?}");
        }
        let message = guard
            .judge_resolved("metadata.monitoring.svc", &addresses(&["169.254.169.254"]))
            .unwrap_err();
        assert!(
            message.contains("169.254.169.254 (link-local)"),
            "{message}"
        );
        let ula = HostGuard::new(&["*.svc", "fd00::/8"]).unwrap();
        assert!(
            ula.judge_resolved("web.shop.svc", &addresses(&["fd00:10::5"]))
                .is_ok(),
            "an IPv6 cluster allows its service network"
        );
    }

    #[test]
    fn the_kubernetes_api_is_no_analysis_target_unless_named() {
        let guard = HostGuard::default();
        for host in [
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        ] {
            let url = format!("https://{host}/api");
            assert!(guard.check(&url).is_err(), "{host}");
        }
        let named = HostGuard::new(&["*.svc", "kubernetes.default.svc"]).unwrap();
        assert!(named.check("https://kubernetes.default.svc/api").is_ok());
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
        assert!(HostGuard::new(&["*."]).is_err(), "a suffix of just the dot");
        assert!(
            HostGuard::new(&["example.com/24"]).is_err(),
            "a prefix on a name"
        );
        assert!(HostGuard::new(&[""]).is_err());
        assert!(HostGuard::new(&["a b"]).is_err());
        assert!(HostGuard::new(&["*.svc"]).is_ok());
    }
}
