//! An endpoint's address as the trail, the logs and error messages may show it: its scheme,
//! host and port, nothing more. Webhook and SIEM URLs often carry a key in their path, query
//! or user part (a chat service takes the URL itself as the key), and whoever reads an export,
//! a SIEM or a log must not learn it.

/// `scheme://host:port` of `url`, or words saying it cannot be read.
pub fn shown(url: &str) -> String {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return "(an address that cannot be read)".to_owned();
    };
    match (parsed.host_str(), parsed.port_or_known_default()) {
        (Some(host), Some(port)) => format!("{}://{host}:{port}", parsed.scheme()),
        (Some(host), None) => format!("{}://{host}", parsed.scheme()),
        (None, _) => format!("{}:", parsed.scheme()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_scheme_host_and_port_are_shown() {
        assert_eq!(
            shown("https://hooks.slack.com/services/T000/B000/XXXXSECRET"),
            "https://hooks.slack.com:443"
        );
        assert_eq!(
            shown("http://user:pa55@siem.example:8088/ingest?token=abc#x"),
            "http://siem.example:8088"
        );
        assert_eq!(shown("not a url pa55"), "(an address that cannot be read)");
    }
}
