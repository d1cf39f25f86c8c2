//! Where a webhook may point. An admin registering `http://127.0.0.1:…`,
//! `http://169.254.169.254/…` (a cloud's metadata service), `http://[::1]/`, `0x7f000001`
//! or `localhost` would turn the server into a client of its own machine and private
//! network. Unless `--allow-private-webhooks` (a lab, the tests), a target whose host
//! resolves to a loopback, link-local, private, shared, unspecified or broadcast address is
//! refused when it is registered and again before every delivery (DNS may change).

use std::net::{IpAddr, Ipv4Addr, ToSocketAddrs};

/// Whether a server should not send webhooks to `ip` (its own machine or a private network).
pub(crate) fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => private_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return private_v4(v4);
            }
            let first = v6.segments().first().copied().unwrap_or(0);
            v6.is_loopback()
                || v6.is_unspecified()
                || (first & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (first & 0xffc0) == 0xfe80 // link-local fe80::/10
        }
    }
}

fn private_v4(v4: Ipv4Addr) -> bool {
    let [a, b, ..] = v4.octets();
    v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_broadcast()
        || a == 0 // "this network" 0.0.0.0/8
        || (a == 100 && (64..128).contains(&b)) // shared address space 100.64.0.0/10
}

/// Resolves the host of `url` (blocking: call it off the async runtime) and refuses it when
/// any of its addresses is private. A host that does not resolve is left to the delivery
/// (it fails and is retried like any unreachable endpoint).
pub(crate) fn check_public(url: &str) -> Result<(), String> {
    let uri: axum::http::Uri = url.parse().map_err(|_| format!("{url:?} is not a URL"))?;
    let host = uri
        .host()
        .ok_or_else(|| "the URL has no host".to_owned())?
        .trim_start_matches('[')
        .trim_end_matches(']');
    let port = uri
        .port_u16()
        .unwrap_or(if uri.scheme_str() == Some("https") {
            443
        } else {
            80
        });
    let Ok(addrs) = (host, port).to_socket_addrs() else {
        return Ok(());
    };
    for addr in addrs {
        if is_private(addr.ip()) {
            return Err(format!(
                "{host} resolves to {}, a loopback, link-local or private address: webhooks go to public endpoints (start the server with --allow-private-webhooks for a lab)",
                addr.ip()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_red_teams_targets_are_private_and_public_ones_are_not() {
        for url in [
            "http://127.0.0.1:9/hook",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]/x",
            "http://0x7f000001/x",
            "http://localhost:8080/",
            "http://10.1.2.3/",
            "http://192.168.0.1/",
            "http://172.16.5.4/",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
            "http://[fd00::1]/",
            "http://[fe80::1]/",
            "http://[::ffff:127.0.0.1]/",
        ] {
            assert!(check_public(url).is_err(), "{url}");
        }
        for ip in ["93.184.216.34", "2606:4700::1111", "8.8.8.8"] {
            assert!(!is_private(ip.parse().unwrap()), "{ip}");
            assert!(
                check_public(&format!(
                    "https://{}/",
                    if ip.contains(':') {
                        format!("[{ip}]")
                    } else {
                        ip.to_owned()
                    }
                ))
                .is_ok()
            );
        }
        // A name that does not resolve is left to the delivery.
        assert!(check_public("https://no-such-host.invalid/hook").is_ok());
    }
}
