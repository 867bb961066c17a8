//! The SSRF guard. The service fetches URLs chosen by anonymous users — the registry, the
//! token realm its challenge names, the blob CDN a redirect points at — so every outbound
//! connection passes here first: addresses that reach into private networks (loopback, RFC
//! 1918, link-local and the cloud metadata address, CGNAT, unique-local, multicast,
//! unspecified, documentation and reserved ranges, and IPv4 addresses hidden in IPv6 forms)
//! are refused, on IP literals before any request and on every address DNS returns (a
//! resolver of our own, so DNS rebinding cannot slip through). Hosts listed in
//! `MQUERY_INSECURE_REGISTRIES` are exempt.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Why an address is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocked {
    Unspecified,
    Loopback,
    Private,
    SharedAddressSpace,
    LinkLocal,
    UniqueLocal,
    Multicast,
    Documentation,
    Reserved,
}

impl Blocked {
    pub fn describe(self) -> &'static str {
        match self {
            Blocked::Unspecified => "an unspecified address",
            Blocked::Loopback => "a loopback address",
            Blocked::Private => "a private address (RFC 1918)",
            Blocked::SharedAddressSpace => "a carrier-grade NAT address (RFC 6598)",
            Blocked::LinkLocal => "a link-local address (including cloud metadata)",
            Blocked::UniqueLocal => "a unique-local IPv6 address",
            Blocked::Multicast => "a multicast or broadcast address",
            Blocked::Documentation => "a documentation or benchmarking address",
            Blocked::Reserved => "a reserved address",
        }
    }
}

/// Whether an IPv4 address may be connected to.
pub fn check_ipv4(ip: Ipv4Addr) -> Result<(), Blocked> {
    let [a, b, c, _] = ip.octets();
    let blocked = match (a, b, c) {
        (0, _, _) => Blocked::Unspecified,
        (10, _, _) => Blocked::Private,
        (100, 64..=127, _) => Blocked::SharedAddressSpace,
        (127, _, _) => Blocked::Loopback,
        (169, 254, _) => Blocked::LinkLocal,
        (172, 16..=31, _) => Blocked::Private,
        (192, 0, 0) => Blocked::Reserved,
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => Blocked::Documentation,
        (192, 88, 99) => Blocked::Reserved,
        (192, 168, _) => Blocked::Private,
        (198, 18..=19, _) => Blocked::Documentation,
        (224..=239, _, _) => Blocked::Multicast,
        (240..=255, _, _) if ip == Ipv4Addr::BROADCAST => Blocked::Multicast,
        (240..=255, _, _) => Blocked::Reserved,
        _ => return Ok(()),
    };
    Err(blocked)
}

/// Whether an IPv6 address may be connected to. IPv4 addresses carried inside IPv6 forms
/// (mapped, compatible, NAT64, 6to4) are judged as the IPv4 address they carry.
pub fn check_ipv6(ip: Ipv6Addr) -> Result<(), Blocked> {
    let s = ip.segments();
    let embedded =
        |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    if ip.is_unspecified() {
        return Err(Blocked::Unspecified);
    }
    if ip.is_loopback() {
        return Err(Blocked::Loopback);
    }
    match s {
        // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible, deprecated)
        [0, 0, 0, 0, 0, 0xffff, hi, lo] | [0, 0, 0, 0, 0, 0, hi, lo] => {
            check_ipv4(embedded(hi, lo))
        }
        // 64:ff9b::a.b.c.d and 64:ff9b:1::/48 (NAT64)
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => check_ipv4(embedded(hi, lo)),
        [0x64, 0xff9b, 1, ..] => Err(Blocked::Reserved),
        // 2002:AABB:CCDD::/48 (6to4)
        [0x2002, hi, lo, ..] => check_ipv4(embedded(hi, lo)),
        // 2001::/32 (Teredo hides its address), 2001:db8::/32 (documentation)
        [0x2001, 0, ..] => Err(Blocked::Reserved),
        [0x2001, 0xdb8, ..] => Err(Blocked::Documentation),
        // 100::/64 (discard)
        [0x100, 0, 0, 0, ..] => Err(Blocked::Reserved),
        [first, ..] if first & 0xfe00 == 0xfc00 => Err(Blocked::UniqueLocal),
        [first, ..] if first & 0xffc0 == 0xfe80 => Err(Blocked::LinkLocal),
        // fec0::/10, deprecated site-local
        [first, ..] if first & 0xffc0 == 0xfec0 => Err(Blocked::Private),
        [first, ..] if first & 0xff00 == 0xff00 => Err(Blocked::Multicast),
        _ => Ok(()),
    }
}

pub fn check_ip(ip: IpAddr) -> Result<(), Blocked> {
    match ip {
        IpAddr::V4(v4) => check_ipv4(v4),
        IpAddr::V6(v6) => check_ipv6(v6),
    }
}

/// A refusal, as the error the HTTP client carries back to us.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{host} is not allowed: it resolves to {}", reason.describe())]
pub struct Refused {
    pub host: String,
    pub reason: Blocked,
}

/// The guard: which hosts are exempt, and the checks.
#[derive(Debug, Clone, Default)]
pub struct Guard {
    /// `host[:port]` entries exempt exactly as listed.
    exempt: HashSet<String>,
    /// The host names among them, which the resolver lets through (it does not see ports;
    /// a listed name on another port is refused by [`Guard::check_url`] first).
    exempt_hosts: HashSet<String>,
}

fn strip_port(entry: &str) -> &str {
    if let Some(rest) = entry.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    entry.split(':').next().unwrap_or(entry)
}

impl Guard {
    pub fn new(insecure_registries: &[String]) -> Guard {
        Guard {
            exempt: insecure_registries
                .iter()
                .map(|e| e.to_ascii_lowercase())
                .collect(),
            exempt_hosts: insecure_registries
                .iter()
                .map(|e| strip_port(e).to_ascii_lowercase())
                .collect(),
        }
    }

    /// Checks a URL before any request: exempt as listed, refused if it names a listed
    /// host on another port or a blocked IP literal. Host names are checked again on
    /// resolution.
    pub fn check_url(&self, url: &Url) -> Result<(), Refused> {
        let Some(host) = url.host_str() else {
            return Err(Refused {
                host: String::new(),
                reason: Blocked::Reserved,
            });
        };
        let host = host.to_ascii_lowercase();
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let with_port = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.clone(),
        };
        if self.exempt.contains(&with_port) {
            return Ok(());
        }
        let ip = bare.parse::<IpAddr>().ok();
        if self.exempt_hosts.contains(&host) || self.exempt_hosts.contains(bare) {
            // a listed host, on a port that is not listed
            return match ip {
                Some(ip) => check_ip(ip).map_err(|reason| Refused {
                    host: with_port,
                    reason,
                }),
                None => Err(Refused {
                    host: with_port,
                    reason: Blocked::Reserved,
                }),
            };
        }
        match ip {
            Some(ip) => check_ip(ip).map_err(|reason| Refused {
                host: with_port,
                reason,
            }),
            None => Ok(()),
        }
    }

    /// The resolver for the HTTP client.
    pub fn resolver(&self) -> Arc<GuardedResolver> {
        Arc::new(GuardedResolver {
            exempt_hosts: self.exempt_hosts.clone(),
        })
    }
}

/// Resolves with the system resolver, then refuses the name if any address it returns is
/// blocked. Refusing the whole answer (rather than dropping bad addresses) leaves a
/// rebinding name nothing to work with.
#[derive(Debug)]
pub struct GuardedResolver {
    exempt_hosts: HashSet<String>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_ascii_lowercase();
        let exempt = self.exempt_hosts.contains(&host);
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !exempt {
                for addr in &addrs {
                    if let Err(reason) = check_ip(addr.ip()) {
                        return Err(Box::new(Refused { host, reason })
                            as Box<dyn std::error::Error + Send + Sync>);
                    }
                }
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// Finds a guard refusal in an error's chain of causes.
pub fn find_refusal<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a Refused> {
    let mut current: Option<&'a (dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = current {
        if let Some(refused) = e.downcast_ref::<Refused>() {
            return Some(refused);
        }
        current = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every address class, judged as a value: no packet is sent anywhere.
    #[test]
    fn address_classes() {
        let cases: &[(&str, Option<Blocked>)] = &[
            ("0.0.0.0", Some(Blocked::Unspecified)),
            ("0.1.2.3", Some(Blocked::Unspecified)),
            ("127.0.0.1", Some(Blocked::Loopback)),
            ("127.255.255.254", Some(Blocked::Loopback)),
            ("10.0.0.1", Some(Blocked::Private)),
            ("172.16.0.1", Some(Blocked::Private)),
            ("172.31.255.255", Some(Blocked::Private)),
            ("192.168.1.1", Some(Blocked::Private)),
            ("100.64.0.1", Some(Blocked::SharedAddressSpace)),
            ("100.127.255.255", Some(Blocked::SharedAddressSpace)),
            ("169.254.169.254", Some(Blocked::LinkLocal)),
            ("169.254.0.1", Some(Blocked::LinkLocal)),
            ("224.0.0.1", Some(Blocked::Multicast)),
            ("239.255.255.250", Some(Blocked::Multicast)),
            ("255.255.255.255", Some(Blocked::Multicast)),
            ("240.0.0.1", Some(Blocked::Reserved)),
            ("192.0.0.8", Some(Blocked::Reserved)),
            ("192.0.2.1", Some(Blocked::Documentation)),
            ("198.18.0.1", Some(Blocked::Documentation)),
            ("::", Some(Blocked::Unspecified)),
            ("::1", Some(Blocked::Loopback)),
            ("fc00::1", Some(Blocked::UniqueLocal)),
            ("fd12:3456::1", Some(Blocked::UniqueLocal)),
            ("fe80::1", Some(Blocked::LinkLocal)),
            ("febf::1", Some(Blocked::LinkLocal)),
            ("fec0::1", Some(Blocked::Private)),
            ("ff02::1", Some(Blocked::Multicast)),
            ("2001:db8::1", Some(Blocked::Documentation)),
            ("2001::1", Some(Blocked::Reserved)),
            ("100::1", Some(Blocked::Reserved)),
            // IPv4 hidden in IPv6
            ("::ffff:127.0.0.1", Some(Blocked::Loopback)),
            ("::ffff:10.1.2.3", Some(Blocked::Private)),
            ("::ffff:169.254.169.254", Some(Blocked::LinkLocal)),
            ("::ffff:100.64.0.1", Some(Blocked::SharedAddressSpace)),
            ("::10.0.0.1", Some(Blocked::Private)),
            ("64:ff9b::a9fe:a9fe", Some(Blocked::LinkLocal)),
            ("64:ff9b::c0a8:101", Some(Blocked::Private)),
            ("2002:7f00:1::", Some(Blocked::Loopback)),
            ("2002:a9fe:a9fe::1", Some(Blocked::LinkLocal)),
            // public
            ("1.1.1.1", None),
            ("8.8.8.8", None),
            ("100.63.255.255", None),
            ("100.128.0.1", None),
            ("172.15.255.255", None),
            ("172.32.0.1", None),
            ("169.253.1.1", None),
            ("2606:4700:4700::1111", None),
            ("::ffff:8.8.8.8", None),
            ("64:ff9b::808:808", None),
            ("2002:808:808::1", None),
        ];
        for (ip, want) in cases {
            let parsed: IpAddr = ip.parse().expect("valid IP");
            assert_eq!(check_ip(parsed).err(), *want, "{ip}");
        }
    }

    fn url(s: &str) -> Url {
        Url::parse(s).expect("url")
    }

    #[test]
    fn urls_and_exemptions() {
        let guard = Guard::new(&[
            "127.0.0.1:5000".into(),
            "localhost:5001".into(),
            "[::1]:5002".into(),
        ]);
        assert!(guard.check_url(&url("http://127.0.0.1:5000/v2/")).is_ok());
        assert!(guard.check_url(&url("http://localhost:5001/v2/")).is_ok());
        assert!(guard.check_url(&url("http://[::1]:5002/v2/")).is_ok());
        // listed hosts on other ports, and unlisted loopback forms
        for refused in [
            "http://127.0.0.1:6000/token",
            "http://localhost:6000/token",
            "http://[::1]:6000/",
            "http://127.0.0.2:5000/",
            "http://0.0.0.0:5000/",
            "https://169.254.169.254/latest/meta-data/",
            "https://[::ffff:a9fe:a9fe]/",
            "https://10.0.0.1/v2/",
            "https://[fd00::1]/v2/",
        ] {
            assert!(guard.check_url(&url(refused)).is_err(), "{refused}");
        }
        // names are left to the resolver
        assert!(
            guard
                .check_url(&url("https://registry-1.docker.io/v2/"))
                .is_ok()
        );
        let err = guard
            .check_url(&url("http://169.254.169.254/"))
            .expect_err("metadata");
        assert_eq!(
            err.to_string(),
            "169.254.169.254 is not allowed: it resolves to a link-local address (including cloud metadata)"
        );
    }

    #[tokio::test]
    async fn the_resolver_refuses_names_of_blocked_addresses() {
        // `localhost` resolves to loopback on any machine; resolution sends no packet
        let guard = Guard::new(&[]);
        let resolver = guard.resolver();
        let name: Name = "localhost".parse().expect("name");
        let err = resolver.resolve(name).await.err().expect("refused");
        let refused = find_refusal(err.as_ref()).expect("a guard refusal");
        assert_eq!(refused.reason, Blocked::Loopback);

        let exempt = Guard::new(&["localhost:5000".into()]).resolver();
        let name: Name = "localhost".parse().expect("name");
        assert!(exempt.resolve(name).await.is_ok());
    }
}
