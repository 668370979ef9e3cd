//! The kernel's accept-queue counters (`TcpExt` in /proc/net/netstat), read around each
//! phase. A connection the server's full accept queue turns away is not an error to the
//! client: its SYN is retried a second or more later, so overflows show up as slow logins
//! and long tails unless they are counted. The counters belong to the whole network
//! namespace, so another busy server on this host would add to them.

use std::collections::HashMap;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListenCounters {
    /// Completed handshakes with no room in the accept queue.
    pub overflows: u64,
    /// Every SYN or handshake the listeners dropped, overflows included.
    pub drops: u64,
}

/// The current counters, or `None` where /proc/net/netstat is missing or unreadable.
pub fn read() -> Option<ListenCounters> {
    parse(&std::fs::read_to_string("/proc/net/netstat").ok()?)
}

/// /proc/net/netstat comes as pairs of lines, names then values, each starting with the
/// same `Prefix:`.
fn parse(text: &str) -> Option<ListenCounters> {
    let mut lines = text.lines();
    while let Some(names) = lines.next() {
        let values = lines.next()?;
        let (Some(names), Some(values)) = (
            names.strip_prefix("TcpExt:"),
            values.strip_prefix("TcpExt:"),
        ) else {
            continue;
        };
        let fields: HashMap<&str, &str> = names
            .split_whitespace()
            .zip(values.split_whitespace())
            .collect();
        let field = |name: &str| fields.get(name)?.parse().ok();
        return Some(ListenCounters {
            overflows: field("ListenOverflows")?,
            drops: field("ListenDrops")?,
        });
    }
    None
}

/// The counters at the start of a phase; [`Phase::end`] says what the phase added.
pub struct Phase(Option<ListenCounters>);

impl Phase {
    pub fn begin() -> Phase {
        Phase(read())
    }

    /// What the phase added, or `None` if the counters could not be read.
    pub fn end(&self) -> Option<ListenCounters> {
        let (before, after) = (self.0?, read()?);
        Some(ListenCounters {
            overflows: after.overflows.saturating_sub(before.overflows),
            drops: after.drops.saturating_sub(before.drops),
        })
    }
}

/// `accept-queue overflows during logins: 3 (ListenDrops +3, host-wide)`, or why there
/// is no figure.
pub fn line(phase: &str, delta: Option<ListenCounters>) -> String {
    match delta {
        Some(d) => format!(
            "accept-queue overflows during {phase}: {} (ListenDrops +{}, host-wide)",
            d.overflows, d.drops
        ),
        None => format!("accept-queue overflows during {phase}: not measured"),
    }
}

/// The overflow count alone, for the summary line.
pub fn short(delta: Option<ListenCounters>) -> String {
    delta.map_or("n/a".into(), |d| d.overflows.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_listen_counters_among_the_tcp_extensions() {
        let text = "\
TcpExt: SyncookiesSent SyncookiesRecv ListenOverflows ListenDrops TCPLostRetransmit
TcpExt: 0 0 71 73 5
IpExt: InNoRoutes InTruncatedPkts ListenOverflows
IpExt: 0 0 999
";
        assert_eq!(
            parse(text),
            Some(ListenCounters {
                overflows: 71,
                drops: 73
            })
        );
        assert_eq!(parse("IpExt: A B\nIpExt: 1 2\n"), None);
        assert_eq!(parse(""), None);
    }

    #[test]
    fn this_host_has_the_counters() {
        if std::path::Path::new("/proc/net/netstat").exists() {
            assert!(read().is_some());
        }
    }
}
