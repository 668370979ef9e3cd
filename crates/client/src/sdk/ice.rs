//! Holding on to the ICE configuration between calls: the `login` answer's is used until
//! its TURN credentials come near their expiry, then `queryIceConfig` gets fresh ones. A
//! call set up with expired credentials would fail late and quietly (the relay refuses,
//! ICE just never connects), so the refresh happens early, before the call needs them.

use beckon_protocol::limits::{ICE_REFRESH_FRACTION, MIN_ICE_REFRESH_MARGIN_MS};
use beckon_protocol::IceConfig;

/// An ICE configuration and when, on this device's clock, to stop using it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HeldIce {
    pub(crate) config: IceConfig,
    /// Local Unix ms from which the config is refreshed before use; `None`: never (no
    /// TURN credentials, nothing expires).
    refresh_at: Option<u64>,
}

impl HeldIce {
    /// `server_now` is the server's clock when it minted `config`, `local_now` this
    /// device's clock then: the lifetime is measured on the server's clock (which set
    /// `expires_at`) and counted down on this one, so a skewed device clock does no harm.
    pub(crate) fn new(config: IceConfig, server_now: u64, local_now: u64) -> HeldIce {
        let refresh_at = config.expires_at.map(|expires_at| {
            let lifetime = expires_at.saturating_sub(server_now);
            let margin = (lifetime / ICE_REFRESH_FRACTION).max(MIN_ICE_REFRESH_MARGIN_MS);
            local_now.saturating_add(lifetime.saturating_sub(margin))
        });
        HeldIce { config, refresh_at }
    }

    /// Whether the config may still be handed out at `local_now`.
    pub(crate) fn is_fresh(&self, local_now: u64) -> bool {
        self.refresh_at.is_none_or(|at| local_now < at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expiring(expires_at: Option<u64>) -> IceConfig {
        IceConfig {
            expires_at,
            ..IceConfig::default()
        }
    }

    #[test]
    fn refreshes_a_quarter_of_the_lifetime_before_expiry() {
        let hour = 3_600_000;
        // Minted at server time 1000 for an hour; this device's clock reads 500 then.
        let held = HeldIce::new(expiring(Some(1_000 + 4 * hour)), 1_000, 500);
        assert!(held.is_fresh(500));
        assert!(held.is_fresh(500 + 3 * hour - 1));
        assert!(!held.is_fresh(500 + 3 * hour));
    }

    #[test]
    fn the_margin_is_at_least_a_minute() {
        let held = HeldIce::new(expiring(Some(2 * 60_000)), 0, 0);
        assert!(held.is_fresh(60_000 - 1));
        assert!(!held.is_fresh(60_000));
        // A lifetime of a minute or less is never fresh: every use asks again.
        let short = HeldIce::new(expiring(Some(60_000)), 0, 0);
        assert!(!short.is_fresh(0));
        let past = HeldIce::new(expiring(Some(10)), 20, 0);
        assert!(!past.is_fresh(0));
    }

    #[test]
    fn without_turn_credentials_nothing_expires() {
        let held = HeldIce::new(expiring(None), 0, 0);
        assert!(held.is_fresh(u64::MAX));
    }
}
