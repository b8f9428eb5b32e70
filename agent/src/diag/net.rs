//! Network checks: configuration, name resolution, TCP reachability,
//! listening ports.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use sysinfo::Networks;

use super::{Args, Output, table};

/// Interfaces with addresses, routes and DNS servers.
pub(super) fn network_config() -> Output {
    let nets = Networks::new_with_refreshed_list()
        .map_err(|e| format!("cannot list network interfaces: {e}"))?;
    let mut ifaces: Vec<Vec<String>> = nets
        .iter()
        .map(|(name, data)| {
            let addrs: Vec<String> = data
                .ip_networks()
                .iter()
                .map(|n| format!("{}/{}", n.addr, n.prefix))
                .collect();
            vec![
                name.to_string_lossy().into_owned(),
                data.mac_address().to_string(),
                addrs.join(" "),
            ]
        })
        .collect();
    ifaces.sort();
    let mut events = vec![table("interfaces", &["NAME", "MAC", "ADDRESSES"], ifaces)];
    match std::fs::read_to_string("/proc/net/route") {
        Ok(text) => events.push(table(
            "IPv4 routes",
            &["DESTINATION", "GATEWAY", "INTERFACE", "METRIC"],
            parse_routes(&text),
        )),
        Err(e) => events.push(deskhand_shared::diag::DiagEvent::Text(format!(
            "routes unavailable: {e}\n"
        ))),
    }
    match std::fs::read_to_string("/etc/resolv.conf") {
        Ok(text) => events.push(table("DNS", &["KIND", "VALUE"], parse_resolv_conf(&text))),
        Err(e) => events.push(deskhand_shared::diag::DiagEvent::Text(format!(
            "DNS settings unavailable: {e}\n"
        ))),
    }
    Ok(events)
}

/// Parses `/proc/net/route` into destination/prefix, gateway, interface, metric.
pub(super) fn parse_routes(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 8 {
                return None;
            }
            let dest = hex_ipv4(f[1])?;
            let gw = hex_ipv4(f[2])?;
            let mask = hex_ipv4(f[7])?;
            let prefix = u32::from(mask).count_ones();
            let dest = if prefix == 0 {
                "default".to_string()
            } else {
                format!("{dest}/{prefix}")
            };
            let gw = if gw.is_unspecified() {
                "-".to_string()
            } else {
                gw.to_string()
            };
            Some(vec![dest, gw, f[0].to_string(), f[6].to_string()])
        })
        .collect()
}

/// `/proc/net/route` writes IPv4 addresses as little-endian hex.
fn hex_ipv4(h: &str) -> Option<Ipv4Addr> {
    let v = u32::from_str_radix(h, 16).ok()?;
    Some(Ipv4Addr::from(v.swap_bytes()))
}

/// Parses `/etc/resolv.conf` into nameserver, search and option rows.
pub(super) fn parse_resolv_conf(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(|l| l.split(['#', ';']).next().unwrap_or("").trim())
        .filter_map(|l| {
            let (kind, value) = l.split_once(char::is_whitespace)?;
            matches!(kind, "nameserver" | "search" | "domain" | "options")
                .then(|| vec![kind.to_string(), value.trim().to_string()])
        })
        .collect()
}

async fn resolve(host: &str, port: u16) -> Result<(Vec<SocketAddr>, Duration), String> {
    let start = Instant::now();
    let addrs: Vec<SocketAddr> = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::net::lookup_host((host, port)),
    )
    .await
    .map_err(|_| format!("resolving {host} timed out after 10 s"))?
    .map_err(|e| format!("cannot resolve {host}: {e}"))?
    .collect();
    Ok((addrs, start.elapsed()))
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e3)
}

/// Resolves a host name, with timing.
pub(super) async fn dns_resolve(args: &Args) -> Output {
    let host = args.get("host");
    let (addrs, took) = resolve(host, 0).await?;
    let rows = addrs
        .iter()
        .map(|a| {
            vec![
                host.to_string(),
                if a.is_ipv4() { "A" } else { "AAAA" }.to_string(),
                a.ip().to_string(),
                ms(took),
            ]
        })
        .collect();
    Ok(vec![table(
        "resolved",
        &["NAME", "TYPE", "ADDRESS", "MS"],
        rows,
    )])
}

/// Opens a TCP connection to each address of a host, with timing.
pub(super) async fn tcp_connect(args: &Args) -> Output {
    let host = args.get("host");
    let port: u16 = args.number("port")?;
    let limit = Duration::from_millis(args.number("timeout-ms")?);
    let (addrs, _) = resolve(host, port).await?;
    if addrs.is_empty() {
        return Err(format!("{host} resolves to no address"));
    }
    let mut rows = Vec::new();
    let mut any_ok = false;
    for addr in addrs {
        let start = Instant::now();
        let result = match tokio::time::timeout(limit, tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(_)) => {
                any_ok = true;
                "connected".to_string()
            }
            Ok(Err(e)) => format!("failed: {e}"),
            Err(_) => format!("timed out after {} ms", limit.as_millis()),
        };
        rows.push(vec![addr.to_string(), result, ms(start.elapsed())]);
    }
    let mut events = vec![table(
        &format!("tcp {host}:{port}"),
        &["ADDRESS", "RESULT", "MS"],
        rows,
    )];
    // An unreachable port is a finding, not a failure of the check.
    events.push(deskhand_shared::diag::DiagEvent::Text(if any_ok {
        format!("{host}:{port} is reachable\n")
    } else {
        format!("no address of {host} accepted a connection on port {port}\n")
    }));
    Ok(events)
}

/// One socket from `/proc/net/{tcp,udp}[6]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Socket {
    pub(super) local: SocketAddr,
    pub(super) state: u8,
    pub(super) inode: u64,
}

/// Parses a `/proc/net/tcp`-style table.
pub(super) fn parse_proc_net(text: &str, v6: bool) -> Vec<Socket> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (ip_hex, port_hex) = f.get(1)?.split_once(':')?;
            let port = u16::from_str_radix(port_hex, 16).ok()?;
            let ip = if v6 {
                hex_ipv6(ip_hex)?
            } else {
                IpAddr::V4(hex_ipv4(ip_hex)?)
            };
            Some(Socket {
                local: SocketAddr::new(ip, port),
                state: u8::from_str_radix(f.get(3)?, 16).ok()?,
                inode: f.get(9)?.parse().ok()?,
            })
        })
        .collect()
}

/// `/proc/net/tcp6` writes IPv6 addresses as four little-endian words.
fn hex_ipv6(h: &str) -> Option<IpAddr> {
    if h.len() != 32 {
        return None;
    }
    let mut bytes = [0u8; 16];
    for (i, word) in (0..4).map(|i| &h[i * 8..i * 8 + 8]).enumerate() {
        let w = u32::from_str_radix(word, 16)
            .ok()?
            .swap_bytes()
            .to_be_bytes();
        bytes[i * 4..i * 4 + 4].copy_from_slice(&w);
    }
    Some(IpAddr::V6(Ipv6Addr::from(bytes)))
}

const TCP_LISTEN: u8 = 0x0A;
const UDP_UNCONNECTED: u8 = 0x07;

/// Maps socket inodes to `pid/name` by reading `/proc/*/fd` (all of them as root).
fn socket_owners() -> HashMap<u64, String> {
    let mut owners = HashMap::new();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return owners;
    };
    for p in procs.flatten() {
        let name = p.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else {
            continue;
        };
        let comm = std::fs::read_to_string(p.path().join("comm")).unwrap_or_default();
        for fd in fds.flatten() {
            if let Ok(target) = std::fs::read_link(fd.path())
                && let Some(inode) = target
                    .to_str()
                    .and_then(|t| t.strip_prefix("socket:["))
                    .and_then(|t| t.strip_suffix(']'))
                    .and_then(|t| t.parse().ok())
            {
                owners.insert(inode, format!("{pid}/{}", comm.trim()));
            }
        }
    }
    owners
}

/// TCP and UDP ports open for incoming traffic, with their process.
pub(super) fn listening_ports() -> Output {
    let owners = socket_owners();
    let mut rows = Vec::new();
    for (proto, file, v6, state) in [
        ("tcp", "/proc/net/tcp", false, TCP_LISTEN),
        ("tcp6", "/proc/net/tcp6", true, TCP_LISTEN),
        ("udp", "/proc/net/udp", false, UDP_UNCONNECTED),
        ("udp6", "/proc/net/udp6", true, UDP_UNCONNECTED),
    ] {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for s in parse_proc_net(&text, v6)
            .into_iter()
            .filter(|s| s.state == state)
        {
            rows.push(vec![
                proto.to_string(),
                s.local.to_string(),
                owners.get(&s.inode).cloned().unwrap_or_else(|| "-".into()),
            ]);
        }
    }
    if rows.is_empty() && !std::path::Path::new("/proc/net/tcp").exists() {
        return Err(
            "listening ports are read from /proc/net, which this system does not have".into(),
        );
    }
    rows.sort();
    rows.dedup();
    Ok(vec![table(
        "listening",
        &["PROTO", "ADDRESS", "PROCESS"],
        rows,
    )])
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTE: &str = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
eth0\t00000000\t0100A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n\
eth0\t0000A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n";

    #[test]
    fn routes_decode_little_endian_hex() {
        let rows = parse_routes(ROUTE);
        assert_eq!(rows[0], vec!["default", "192.168.0.1", "eth0", "100"]);
        assert_eq!(rows[1], vec!["192.168.0.0/24", "-", "eth0", "100"]);
    }

    #[test]
    fn resolv_conf_keeps_servers_and_search_without_comments() {
        let rows = parse_resolv_conf(
            "# generated\nnameserver 10.0.0.1\nsearch corp.example ; x\noptions edns0\nbogus\n",
        );
        assert_eq!(
            rows,
            vec![
                vec!["nameserver", "10.0.0.1"],
                vec!["search", "corp.example"],
                vec!["options", "edns0"],
            ]
        );
    }

    #[test]
    fn proc_net_tcp_lines_give_address_state_and_inode() {
        let v4 = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0\n";
        let s = parse_proc_net(v4, false);
        assert_eq!(
            s,
            vec![Socket {
                local: "127.0.0.1:8080".parse().expect("addr"),
                state: 0x0A,
                inode: 12345
            }]
        );
        let v6 = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 00000000000000000000000001000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 999 1\n";
        let s = parse_proc_net(v6, true);
        assert_eq!(s[0].local, "[::1]:22".parse().expect("addr"));
        assert!(parse_proc_net("header\ngarbage line\n", false).is_empty());
    }

    #[tokio::test]
    async fn tcp_connect_reaches_a_local_listener_and_reports_a_closed_port() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port().to_string();
        let tcp = |port: String| {
            let req = deskhand_shared::diag::DiagRequest {
                check: "tcp-connect".into(),
                args: vec![
                    ("host".into(), "127.0.0.1".into()),
                    ("port".into(), port),
                    ("timeout-ms".into(), "2000".into()),
                ],
                follow: false,
            };
            super::super::validate(&req).expect("valid").1
        };
        let args = tcp(port);
        let events = tcp_connect(&args).await.expect("connects");
        let deskhand_shared::diag::DiagEvent::Table(t) = &events[0] else {
            panic!("table expected")
        };
        assert_eq!(t.rows[0][1], "connected");
        drop(listener);
        let closed = tcp("9".into());
        let events = tcp_connect(&closed).await.expect("the check runs");
        let deskhand_shared::diag::DiagEvent::Table(t) = &events[0] else {
            panic!("table expected")
        };
        assert!(t.rows[0][1].starts_with("failed"), "{:?}", t.rows);
    }
}
