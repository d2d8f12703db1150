//! A replica amount given as a count or a percentage (Kubernetes' int-or-string), resolved
//! against a total the way Argo Rollouts resolves `maxSurge` and `maxUnavailable`.

use std::fmt;

/// A count of replicas, or a percentage of a total.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Amount {
    /// An absolute number of replicas.
    Count(i32),
    /// A percentage of the total.
    Percent(i32),
}

/// A string amount that is not a percentage.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is neither a number nor a percentage such as \"25%\"")]
pub struct AmountError {
    /// The value as written.
    pub value: String,
}

impl Amount {
    /// Reads the string form. As in Argo (and apimachinery's legacy behaviour) every string is
    /// a percentage, with or without the `%` sign: `"25%"` and `"25"` both mean 25 %.
    pub fn parse(value: &str) -> Result<Self, AmountError> {
        let digits = value.strip_suffix('%').unwrap_or(value);
        digits.parse().map(Self::Percent).map_err(|_| AmountError {
            value: value.to_owned(),
        })
    }

    /// The amount of `total`, a percentage rounded up (how `maxSurge` resolves).
    #[must_use]
    pub fn rounded_up(self, total: i32) -> i32 {
        match self {
            Self::Count(count) => count,
            Self::Percent(percent) => div_ceil(i64::from(percent) * i64::from(total), 100),
        }
    }

    /// The amount of `total`, a percentage rounded down (how `maxUnavailable` resolves).
    #[must_use]
    pub fn rounded_down(self, total: i32) -> i32 {
        match self {
            Self::Count(count) => count,
            Self::Percent(percent) => div_floor(i64::from(percent) * i64::from(total), 100),
        }
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Count(count) => write!(f, "{count}"),
            Self::Percent(percent) => write!(f, "{percent}%"),
        }
    }
}

fn div_ceil(numerator: i64, denominator: i64) -> i32 {
    saturate(numerator.div_euclid(denominator) + i64::from(numerator.rem_euclid(denominator) != 0))
}

fn div_floor(numerator: i64, denominator: i64) -> i32 {
    saturate(numerator.div_euclid(denominator))
}

fn saturate(value: i64) -> i32 {
    i32::try_from(value).unwrap_or(if value < 0 { i32::MIN } else { i32::MAX })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_percentages_with_or_without_the_sign() {
        assert_eq!(Amount::parse("25%"), Ok(Amount::Percent(25)));
        assert_eq!(Amount::parse("25"), Ok(Amount::Percent(25)));
        assert_eq!(Amount::parse("0%"), Ok(Amount::Percent(0)));
        assert!(Amount::parse("a quarter").is_err());
        assert!(Amount::parse("%").is_err());
    }

    #[test]
    fn percentages_round_up_or_down() {
        assert_eq!(Amount::Percent(25).rounded_up(10), 3);
        assert_eq!(Amount::Percent(25).rounded_down(10), 2);
        assert_eq!(Amount::Percent(20).rounded_up(10), 2);
        assert_eq!(Amount::Percent(20).rounded_down(10), 2);
        assert_eq!(Amount::Percent(25).rounded_up(3), 1);
        assert_eq!(Amount::Percent(25).rounded_down(3), 0);
    }

    #[test]
    fn counts_are_taken_as_given() {
        assert_eq!(Amount::Count(3).rounded_up(10), 3);
        assert_eq!(Amount::Count(3).rounded_down(10), 3);
    }

    #[test]
    fn display_round_trips() {
        for amount in [Amount::Count(3), Amount::Percent(25)] {
            let shown = amount.to_string();
            let parsed = if shown.ends_with('%') {
                Amount::parse(&shown).unwrap()
            } else {
                Amount::Count(shown.parse().unwrap())
            };
            assert_eq!(parsed, amount);
        }
    }
}
