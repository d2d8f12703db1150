//! Durations as Argo Rollouts writes them: Go duration strings (`30s`, `1h30m`, `1.5h`) for
//! analysis intervals, and pause durations that may also be plain seconds (`30` or `"30"`).

use std::time::Duration;

/// A duration that could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a duration: {reason} (write e.g. \"30s\", \"5m\", \"1h30m\")")]
pub struct DurationError {
    /// The value as written.
    pub value: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// Reads a Go duration string (`time.ParseDuration`): a sequence of decimal numbers, each with
/// a unit (`ns`, `us`/`µs`, `ms`, `s`, `m`, `h`), such as `300ms`, `1.5h` or `2h45m`. `0` alone
/// is allowed. Negative durations are refused: nothing in a Rollout can wait a negative time.
pub fn parse_go_duration(value: &str) -> Result<Duration, DurationError> {
    let error = |reason| DurationError {
        value: value.to_owned(),
        reason,
    };
    let text = value.strip_prefix('+').unwrap_or(value);
    if text.starts_with('-') {
        return Err(error("negative durations are not allowed"));
    }
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    if text.is_empty() {
        return Err(error("it is empty"));
    }
    let mut rest = text;
    let mut total_nanos: u128 = 0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_len);
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let unit_nanos: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(error("a number is missing its unit")),
            _ => return Err(error("unknown unit")),
        };
        total_nanos += scaled(number, unit_nanos).ok_or_else(|| error("malformed number"))?;
        rest = after;
    }
    let nanos = u64::try_from(total_nanos).map_err(|_| error("too long"))?;
    Ok(Duration::from_nanos(nanos))
}

/// `number` (digits with at most one decimal point) times `unit_nanos`, truncated to whole
/// nanoseconds as Go does.
fn scaled(number: &str, unit_nanos: u128) -> Option<u128> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let digits = |text: &str| text.chars().all(|c| c.is_ascii_digit());
    if !digits(whole) || !digits(fraction) {
        return None;
    }
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut nanos = whole.checked_mul(unit_nanos)?;
    let mut scale = unit_nanos;
    for digit in fraction.chars().take(20) {
        scale /= 10;
        nanos += u128::from(digit.to_digit(10)?) * scale;
    }
    Some(nanos)
}

/// Reads a pause step's duration, which Argo accepts as an integer number of seconds, a string
/// of digits (seconds), or a Go duration string.
pub fn parse_pause_seconds(value: &str) -> Result<Duration, DurationError> {
    if !value.is_empty() && value.chars().all(|c| c.is_ascii_digit()) {
        let seconds = value.parse().map_err(|_| DurationError {
            value: value.to_owned(),
            reason: "too long",
        })?;
        return Ok(Duration::from_secs(seconds));
    }
    parse_go_duration(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(seconds: u64) -> Duration {
        Duration::from_secs(seconds)
    }

    #[test]
    fn go_duration_strings() {
        let cases = [
            ("0", Duration::ZERO),
            ("30s", secs(30)),
            ("5m", secs(300)),
            ("1h", secs(3600)),
            ("1h30m", secs(5400)),
            ("2h45m10s", secs(9910)),
            ("1.5h", secs(5400)),
            (".5s", Duration::from_millis(500)),
            ("1.s", secs(1)),
            ("300ms", Duration::from_millis(300)),
            ("10us", Duration::from_micros(10)),
            ("10µs", Duration::from_micros(10)),
            ("7ns", Duration::from_nanos(7)),
            ("+15s", secs(15)),
            ("1m0.5s", Duration::from_millis(60_500)),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_go_duration(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn malformed_durations_say_why() {
        let cases = [
            ("", "it is empty"),
            ("30", "a number is missing its unit"),
            ("1h30", "a number is missing its unit"),
            ("5 minutes", "unknown unit"),
            ("1d", "unknown unit"),
            ("-5s", "negative durations are not allowed"),
            ("1..5s", "malformed number"),
            ("s", "malformed number"),
            ("99999999999999h", "too long"),
        ];
        for (text, reason) in cases {
            let error = parse_go_duration(text).unwrap_err();
            assert_eq!(error.reason, reason, "{text}");
            assert!(error.to_string().contains(&format!("{text:?}")), "{error}");
        }
    }

    #[test]
    fn pause_durations_accept_plain_seconds() {
        assert_eq!(parse_pause_seconds("30"), Ok(secs(30)));
        assert_eq!(parse_pause_seconds("1h"), Ok(secs(3600)));
        assert_eq!(parse_pause_seconds("90s"), Ok(secs(90)));
        assert!(parse_pause_seconds("soon").is_err());
    }
}
