//! The address of the person behind a request. `X-Forwarded-For` is believed only as far as it
//! was written by configured trusted proxies: anyone else could write anything there.

use std::net::IpAddr;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};

use ipnet::IpNet;

const MAX_USER_AGENT_CHARS: usize = 512;

/// Where a request comes from, as the trail records it: the client's address (see `client_ip`)
/// and its user agent.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    pub ip: String,
    /// A trusted proxy says the person reached it over https (`X-Forwarded-Proto`).
    pub forwarded_https: bool,
    pub user_agent: String,
}

/// What knows the proxies whose `X-Forwarded-For` is believed: the application's state.
pub trait TrustedProxies {
    fn trusted_proxies(&self) -> &[IpNet];
}

impl<S: TrustedProxies + Send + Sync> FromRequestParts<S> for ClientInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| {
                client_ip(peer.ip(), &parts.headers, state.trusted_proxies()).to_string()
            })
            .unwrap_or_default();
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .chars()
            .take(MAX_USER_AGENT_CHARS)
            .collect();
        let forwarded_https = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .is_some_and(|ConnectInfo(peer)| {
                let trusted = state.trusted_proxies();
                trusted.iter().any(|net| holds(net, peer.ip()))
                    && forwarded_proto_is_https(&parts.headers)
            });
        Ok(ClientInfo {
            ip,
            user_agent,
            forwarded_https,
        })
    }
}

/// Whether the nearest `X-Forwarded-Proto` says `https` (the proxy in front writes it last).
fn forwarded_proto_is_https(headers: &HeaderMap) -> bool {
    headers
        .get_all("x-forwarded-proto")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .next_back()
        .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
}

/// Whether `network` holds `address`, an IPv4 address seen through an IPv6 socket being the
/// IPv4 address.
pub fn holds(network: &IpNet, address: IpAddr) -> bool {
    network.contains(&canonical(address))
}

/// IPv4 addresses seen through an IPv6 socket (`::ffff:a.b.c.d`) are IPv4 addresses.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// The client's address: the peer's, unless the peer is a trusted proxy; then the nearest
/// address in `X-Forwarded-For` that is not itself a trusted proxy.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |address: IpAddr| trusted.iter().any(|net| holds(net, address));
    let peer = canonical(peer);
    if !is_trusted(peer) {
        return peer;
    }
    let forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .collect();
    // From the nearest hop back: each trusted proxy names the one before it, until a hop that
    // is not trusted (the client) or an entry that cannot be read (written by nobody trusted).
    let mut client = peer;
    for entry in forwarded.into_iter().rev() {
        let Ok(address) = entry.trim().parse::<IpAddr>().map(canonical) else {
            break;
        };
        client = address;
        if !is_trusted(address) {
            break;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;
    use crate::config::parse_network;

    fn headers(forwarded: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_str(forwarded).unwrap());
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn networks_hold_their_addresses() {
        let net = parse_network("10.1.0.0/16").unwrap();
        assert!(holds(&net, ip("10.1.255.3")));
        assert!(!holds(&net, ip("10.2.0.1")));
        assert!(holds(&net, ip("::ffff:10.1.0.9")));
        let odd = parse_network("192.168.4.0/22").unwrap();
        assert!(holds(&odd, ip("192.168.7.255")));
        assert!(!holds(&odd, ip("192.168.8.0")));
        let one = parse_network("::1").unwrap();
        assert!(holds(&one, ip("::1")));
        assert!(!holds(&one, ip("127.0.0.1")));
        assert!(holds(&parse_network("0.0.0.0/0").unwrap(), ip("8.8.8.8")));
        for bad in ["10.0.0.0/33", "ten", "10.0.0.0/x", "::/129"] {
            let error = parse_network(bad).unwrap_err();
            assert!(error.contains(bad), "{error}");
        }
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxies = [parse_network("10.0.0.0/8").unwrap()];
        let forwarded = headers("203.0.113.7, 10.0.0.5");
        assert_eq!(
            client_ip(ip("10.0.0.2"), &forwarded, &proxies),
            ip("203.0.113.7")
        );
        // Someone else writing the header is ignored.
        assert_eq!(
            client_ip(ip("198.51.100.1"), &forwarded, &proxies),
            ip("198.51.100.1")
        );
        // The client cannot hide behind a made-up address at the front of the list.
        let spoofed = headers("1.2.3.4, 203.0.113.7");
        assert_eq!(
            client_ip(ip("10.0.0.2"), &spoofed, &proxies),
            ip("203.0.113.7")
        );
        // An entry that cannot be read stops the walk, without hiding the hops after it.
        assert_eq!(
            client_ip(ip("10.0.0.2"), &headers("garbage"), &proxies),
            ip("10.0.0.2")
        );
        assert_eq!(
            client_ip(ip("10.0.0.2"), &headers("garbage, 203.0.113.7"), &proxies),
            ip("203.0.113.7")
        );
        assert_eq!(
            client_ip(ip("10.0.0.2"), &HeaderMap::new(), &proxies),
            ip("10.0.0.2")
        );
    }
}
