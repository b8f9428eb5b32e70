//! Linux network: /sys/class/net, addresses from getifaddrs (sysinfo), routes from /proc/net, resolv.conf.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use deskhand_shared::inventory::{Inventory, NetInterface, NetworkConfig};

use super::{attr, list_dir, read};
use crate::inventory::{Apply, Findings};

/// Default IPv4 gateways from /proc/net/route (hex, little-endian addresses).
pub(crate) fn parse_route(text: &str) -> Vec<String> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            let (dest, gw, mask) = (cols.get(1)?, cols.get(2)?, cols.get(7)?);
            if *dest != "00000000" || *mask != "00000000" || *gw == "00000000" {
                return None;
            }
            let v = u32::from_str_radix(gw, 16).ok()?;
            Some(std::net::Ipv4Addr::from(v.swap_bytes()).to_string())
        })
        .collect()
}

/// Default IPv6 gateways from /proc/net/ipv6_route.
pub(crate) fn parse_ipv6_route(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            let (dest, plen, gw) = (cols.first()?, cols.get(1)?, cols.get(4)?);
            if dest.chars().any(|c| c != '0') || *plen != "00" || gw.chars().all(|c| c == '0') {
                return None;
            }
            let v = u128::from_str_radix(gw, 16).ok()?;
            Some(std::net::Ipv6Addr::from(v).to_string())
        })
        .collect()
}

/// (nameservers, search domains, domain) of a resolv.conf.
pub(crate) fn parse_resolv_conf(text: &str) -> (Vec<String>, Vec<String>, Option<String>) {
    let (mut ns, mut search, mut domain) = (Vec::new(), Vec::new(), None);
    for line in text.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => ns.extend(words.next().map(str::to_string)),
            Some("search") => search = words.map(str::to_string).collect(),
            Some("domain") => domain = words.next().map(str::to_string),
            _ => {}
        }
    }
    (ns, search, domain)
}

fn kind_of(name: &str, base: &str) -> &'static str {
    let p = Path::new(base);
    match attr(format!("{base}/type")).as_deref() {
        Some("772") => return "loopback",
        Some("768") | Some("769") | Some("776") => return "tunnel",
        Some("65534") => return "tunnel",
        _ => {}
    }
    if p.join("wireless").exists() || p.join("phy80211").exists() {
        "wifi"
    } else if p.join("bridge").exists() {
        "bridge"
    } else if p.join("bonding").exists() {
        "bond"
    } else if name.contains('.') && p.join("lower").exists() {
        "vlan"
    } else if !p.join("device").exists() {
        "virtual"
    } else {
        "ethernet"
    }
}

pub(super) fn collect(w: &mut Findings) -> Apply {
    let networks = match sysinfo::Networks::new_with_refreshed_list() {
        Ok(n) => Some(n),
        Err(e) => {
            w.push(format!("cannot list interface addresses: {e}"));
            None
        }
    };
    let mut addrs: BTreeMap<String, (Vec<String>, Vec<String>)> = BTreeMap::new();
    for (name, data) in networks.iter().flat_map(|n| n.iter()) {
        let entry = addrs
            .entry(name.to_string_lossy().into_owned())
            .or_default();
        for net in data.ip_networks() {
            let s = format!("{}/{}", net.addr, net.prefix);
            if net.addr.is_ipv4() {
                entry.0.push(s);
            } else {
                entry.1.push(s);
            }
        }
    }
    let mut interfaces = Vec::new();
    for name in list_dir("/sys/class/net") {
        let base = format!("/sys/class/net/{name}");
        let (ipv4, ipv6) = addrs.remove(&name).unwrap_or_default();
        let mac = attr(format!("{base}/address")).filter(|m| m != "00:00:00:00:00:00");
        let speed = attr(format!("{base}/speed"))
            .and_then(|s| s.parse::<i64>().ok())
            .filter(|&s| s > 0)
            .and_then(|s| u32::try_from(s).ok());
        let driver = fs::read_link(format!("{base}/device/driver"))
            .ok()
            .and_then(|p| p.file_name().map(|f| f.to_string_lossy().into_owned()));
        interfaces.push(NetInterface {
            kind: Some(kind_of(&name, &base).to_string()),
            mac,
            ipv4,
            ipv6,
            state: attr(format!("{base}/operstate")),
            speed_mbps: speed,
            mtu: attr(format!("{base}/mtu")).and_then(|m| m.parse().ok()),
            driver,
            name,
        });
    }
    if interfaces.is_empty() {
        w.push("no network interface in /sys/class/net".into());
    }
    let mut gateways = read("/proc/net/route")
        .map(|t| parse_route(&t))
        .unwrap_or_default();
    gateways.extend(
        read("/proc/net/ipv6_route")
            .map(|t| parse_ipv6_route(&t))
            .unwrap_or_default(),
    );
    gateways.sort();
    gateways.dedup();
    let resolv = read("/etc/resolv.conf").unwrap_or_default();
    let (mut dns, search, domain) = parse_resolv_conf(&resolv);
    // systemd-resolved's stub: the real servers are in its own file.
    if dns.iter().all(|d| d.starts_with("127.0.0.5"))
        && let Some(t) = read("/run/systemd/resolve/resolv.conf")
    {
        let (real, _, _) = parse_resolv_conf(&t);
        if !real.is_empty() {
            dns = real;
        }
    }
    Box::new(move |inv: &mut Inventory| {
        inv.interfaces = interfaces;
        inv.network = NetworkConfig {
            default_gateways: gateways,
            dns_servers: dns,
            search_domains: search,
        };
        if inv.identity.domain.is_none() {
            inv.identity.domain = domain;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_routes() {
        let route = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                     eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
                     eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
        assert_eq!(parse_route(route), ["192.0.2.1"]);
        let v6 = "00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003 wlan0\n\
                  fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001 wlan0\n";
        assert_eq!(parse_ipv6_route(v6), ["fe80::1"]);
        assert!(parse_route("garbage").is_empty());
    }

    #[test]
    fn resolv_conf() {
        let (ns, search, domain) = parse_resolv_conf(
            "# generated\nnameserver 192.0.2.53\nnameserver 2001:db8::53\nsearch corp.example example\ndomain corp.example\n",
        );
        assert_eq!(ns, ["192.0.2.53", "2001:db8::53"]);
        assert_eq!(search, ["corp.example", "example"]);
        assert_eq!(domain.as_deref(), Some("corp.example"));
    }
}
