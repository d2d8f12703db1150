//! When to look at a source next: the polling interval with jitter (so many sources and
//! replicas do not fetch in lockstep), and exponential backoff after failed fetches.

use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

/// The first retry after a failure.
const FIRST_RETRY: Duration = Duration::from_secs(2);
/// Retries never wait longer than this (nor longer than the interval).
const MAX_RETRY: Duration = Duration::from_secs(300);

/// The wait before the next poll: `interval` plus up to 10% of it, spread by `random`.
#[must_use]
pub fn next_poll(interval: Duration, random: u64) -> Duration {
    let spread = interval / 10;
    let nanos = u64::try_from(spread.as_nanos()).unwrap_or(u64::MAX);
    interval + Duration::from_nanos(if nanos == 0 { 0 } else { random % nanos })
}

/// The wait before retrying after `failures` consecutive failures (1 = the first).
#[must_use]
pub fn next_retry(interval: Duration, failures: u32) -> Duration {
    let exponent = failures.saturating_sub(1).min(16);
    FIRST_RETRY
        .saturating_mul(1 << exponent)
        .min(MAX_RETRY)
        .min(interval.max(FIRST_RETRY))
}

/// A random number from the standard library's per-process random hasher keys.
#[must_use]
pub fn random() -> u64 {
    RandomState::new().hash_one(std::time::SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polls_are_spread_over_a_tenth_of_the_interval() {
        let interval = Duration::from_secs(60);
        assert_eq!(next_poll(interval, 0), interval);
        for random in [1, 7, u64::MAX, 5_999_999_999] {
            let wait = next_poll(interval, random);
            assert!(
                wait >= interval && wait < interval + Duration::from_secs(6),
                "{wait:?}"
            );
        }
    }

    #[test]
    fn retries_back_off_up_to_the_interval() {
        let interval = Duration::from_secs(60);
        let waits: Vec<u64> = (1..=7)
            .map(|failures| next_retry(interval, failures).as_secs())
            .collect();
        assert_eq!(waits, [2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(next_retry(Duration::from_secs(3600), 30), MAX_RETRY);
    }
}
