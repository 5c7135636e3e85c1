//! The `--address` option: where Keel's HTTP API is, as host, port and path prefix.

use anyhow::{Context, Result, anyhow, bail};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// The address as the user gave it, for error messages.
    pub text: String,
    pub host: String,
    pub port: u16,
    /// `host:port`, for the `Host` header.
    pub authority: String,
    /// A path prefix when Keel is behind a proxy under a sub-path; empty otherwise.
    pub base_path: String,
}

impl Address {
    /// Accepts `http://host[:port][/prefix]` or a bare `host[:port]`. The client has no TLS,
    /// so `https://` is refused here rather than failing later with a confusing error.
    pub fn parse(address: &str) -> Result<Address> {
        let text = address.trim().trim_end_matches('/');
        let rest = if let Some(rest) = text.strip_prefix("http://") {
            rest
        } else if text.starts_with("https://") {
            bail!(
                "--address {text}: https:// is not supported by the keel CLI; use an http:// address"
            )
        } else if text.contains("://") {
            bail!("--address {text}: only http:// addresses are supported")
        } else {
            text
        };
        let (authority, base_path) = match rest.find('/') {
            Some(slash_idx) => rest.split_at(slash_idx),
            None => (rest, ""),
        };
        let (host, port) =
            split_host_port(authority).with_context(|| format!("--address {text}"))?;
        Ok(Address {
            text: text.to_string(),
            host,
            port,
            authority: authority.to_string(),
            base_path: base_path.to_string(),
        })
    }
}

fn split_host_port(authority: &str) -> Result<(String, u16)> {
    let parse_port = |port: &str| {
        port.parse::<u16>()
            .map_err(|_| anyhow!("'{port}' is not a port number"))
    };
    // An IPv6 literal comes in brackets: `[::1]:8233`.
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| anyhow!("unclosed '[' in the host"))?;
        let port = match after.strip_prefix(':') {
            Some(port) => parse_port(port)?,
            None if after.is_empty() => 80,
            None => bail!("unexpected '{after}' after the host"),
        };
        return Ok((host.to_string(), port));
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (host, parse_port(port)?),
        None => (authority, 80),
    };
    if host.is_empty() {
        bail!("no host");
    }
    Ok((host.to_string(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_parsed_and_https_is_refused() {
        let address = Address::parse("http://127.0.0.1:8233/").unwrap();
        assert_eq!(
            (
                address.host.as_str(),
                address.port,
                address.base_path.as_str()
            ),
            ("127.0.0.1", 8233, "")
        );
        assert_eq!(address.text, "http://127.0.0.1:8233");
        let address = Address::parse("[::1]:9000/keel").unwrap();
        assert_eq!(
            (
                address.host.as_str(),
                address.port,
                address.base_path.as_str()
            ),
            ("::1", 9000, "/keel")
        );
        assert_eq!(address.authority, "[::1]:9000");
        assert_eq!(Address::parse("http://keel.internal").unwrap().port, 80);
        let error = Address::parse("https://keel.example.com")
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "--address https://keel.example.com: https:// is not supported by the keel CLI; use an http:// address"
        );
        let error = format!("{:#}", Address::parse("http://host:port").unwrap_err());
        assert_eq!(
            error,
            "--address http://host:port: 'port' is not a port number"
        );
        assert!(Address::parse("http://:80").is_err());
    }
}
