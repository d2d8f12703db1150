//! Helm's version constraints (the Masterminds/semver syntax `helm pull --version` takes),
//! pure: which of a repository's versions a constraint picks.
//!
//! `||` separates alternatives; within one, comparators are separated by commas or spaces.
//! A comparator is an operator (`=`, `!=`, `>`, `<`, `>=`, `=>`, `<=`, `=<`, `~`, `~>`, `^`,
//! or none) and a version that may be partial (`1.2`) or hold wildcards (`1.2.x`, `1.*`), or
//! a hyphen range `1.2 - 1.4.5`. As in Helm, a bare partial version is a range (`1.2` is
//! `>=1.2.0, <1.3.0`), a bare full one is exact, and pre-releases match only a comparator
//! that names a pre-release of the same version.

use semver::{Comparator, Version, VersionReq};

/// A parsed constraint: alternatives, each a conjunction.
#[derive(Debug, Clone)]
pub struct Constraint {
    alternatives: Vec<Conjunction>,
}

/// Comparators that must all hold (one requirement, so that `semver`'s pre-release rule sees
/// them together), and versions excluded by `!=`.
#[derive(Debug, Clone)]
struct Conjunction {
    required: VersionReq,
    excluded: Vec<Version>,
}

impl Conjunction {
    fn matches(&self, version: &Version) -> bool {
        self.required.matches(version) && !self.excluded.contains(version)
    }
}

impl Constraint {
    /// Parses `text`; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut alternatives = Vec::new();
        for alternative in text.split("||") {
            alternatives.push(
                conjunction(alternative.trim())
                    .map_err(|why| format!("version constraint {text:?}: {why}"))?,
            );
        }
        Ok(Self { alternatives })
    }

    /// Whether `version` satisfies the constraint.
    #[must_use]
    pub fn matches(&self, version: &Version) -> bool {
        self.alternatives
            .iter()
            .any(|conjunction| conjunction.matches(version))
    }
}

/// One alternative: comparators separated by commas or spaces, or a hyphen range.
fn conjunction(text: &str) -> Result<Conjunction, String> {
    if text.is_empty() {
        return Err("an alternative is empty".into());
    }
    let mut conjunction = Conjunction {
        required: VersionReq {
            comparators: Vec::new(),
        },
        excluded: Vec::new(),
    };
    if let Some((low, high)) = text.split_once(" - ") {
        conjunction.required.comparators = vec![
            comparator(">=", low.trim())?,
            comparator("<=", high.trim())?,
        ];
        return Ok(conjunction);
    }
    let mut words = text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|word| !word.is_empty())
        .peekable();
    while let Some(word) = words.next() {
        let split = word
            .find(|c: char| c.is_ascii_alphanumeric() || c == '*')
            .unwrap_or(word.len());
        let (op, mut version) = word.split_at(split);
        // `>= 1.2`: the operator stands alone, its version is the next word.
        let joined;
        if version.is_empty() {
            joined = words
                .next()
                .ok_or_else(|| format!("operator {op:?} has no version"))?;
            version = joined;
        }
        if op == "!=" {
            conjunction.excluded.push(
                full_version(version)
                    .ok_or_else(|| format!("\"!=\" needs a full version, not {version:?}"))?,
            );
        } else {
            conjunction
                .required
                .comparators
                .push(comparator(op, version)?);
        }
    }
    Ok(conjunction)
}

/// A comparator in `semver`'s syntax, which differs from Helm's in two places: a bare
/// version is exact (`semver` reads it as `^`), and `=>`, `=<`, `~>` are other spellings.
fn comparator(op: &str, version: &str) -> Result<Comparator, String> {
    let op = match op {
        "" | "=" => "=",
        "=>" => ">=",
        "=<" => "<=",
        "~>" => "~",
        ">" | "<" | ">=" | "<=" | "~" | "^" => op,
        other => return Err(format!("unknown operator {other:?}")),
    };
    let version = version.strip_prefix(['v', 'V']).unwrap_or(version);
    if version.split(['-', '+']).next().is_some_and(|core| {
        core.split('.')
            .any(|part| part.eq_ignore_ascii_case("x") || part == "*")
    }) {
        // A wildcard: semver takes `1.2.*` as `=1.2` when the operator allows it.
        let fixed: Vec<&str> = version
            .split('.')
            .take_while(|part| !(part.eq_ignore_ascii_case("x") || *part == "*"))
            .collect();
        if fixed.is_empty() {
            return Comparator::parse(">=0.0.0").map_err(|error| error.to_string());
        }
        return Comparator::parse(&format!("{op}{}", fixed.join(".")))
            .map_err(|error| format!("{version:?}: {error}"));
    }
    Comparator::parse(&format!("{op}{version}")).map_err(|error| format!("{version:?}: {error}"))
}

/// A version as chart repositories write them (`1.2.3`, `v1.2.3`, `1.2.3-rc.1+build`).
#[must_use]
pub fn full_version(text: &str) -> Option<Version> {
    let text = text.strip_prefix(['v', 'V']).unwrap_or(text);
    Version::parse(text).ok()
}

/// The newest of `versions` that `constraint` allows (absent: the newest stable one), with
/// its text as the repository wrote it.
#[must_use]
pub fn newest<'a>(
    versions: impl IntoIterator<Item = &'a str>,
    constraint: Option<&Constraint>,
) -> Option<&'a str> {
    versions
        .into_iter()
        .filter_map(|text| full_version(text).map(|version| (version, text)))
        .filter(|(version, _)| match constraint {
            Some(constraint) => constraint.matches(version),
            None => version.pre.is_empty(),
        })
        .max_by(|(a, _), (b, _)| a.cmp_precedence(b).then_with(|| a.cmp(b)))
        .map(|(_, text)| text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VERSIONS: &[&str] = &[
        "0.9.0",
        "1.0.0",
        "1.2.0",
        "1.2.7",
        "v1.3.0",
        "1.4.0-rc.1",
        "1.4.0",
        "2.0.0",
        "2.1.0-beta.2",
        "not-a-version",
    ];

    fn pick(constraint: &str) -> Option<&'static str> {
        let constraint = Constraint::parse(constraint).expect("parses");
        newest(VERSIONS.iter().copied(), Some(&constraint))
    }

    #[test]
    fn picks_the_newest_version_a_constraint_allows() {
        assert_eq!(pick("1.2.0"), Some("1.2.0"));
        assert_eq!(pick("=1.2.0"), Some("1.2.0"));
        assert_eq!(pick("v1.3.0"), Some("v1.3.0"));
        assert_eq!(pick("1.2"), Some("1.2.7"));
        assert_eq!(pick("1.2.x"), Some("1.2.7"));
        assert_eq!(pick("1.*"), Some("1.4.0"));
        assert_eq!(pick("*"), Some("2.0.0"));
        assert_eq!(pick("~1.2"), Some("1.2.7"));
        assert_eq!(pick("~>1.2.1"), Some("1.2.7"));
        assert_eq!(pick("^1.2"), Some("1.4.0"));
        assert_eq!(pick(">=1.2, <2"), Some("1.4.0"));
        assert_eq!(pick(">= 1.2 < 1.3"), Some("1.2.7"));
        assert_eq!(pick("=>1.0.0 =<1.2.0"), Some("1.2.0"));
        assert_eq!(pick(">1.3"), Some("2.0.0"));
        assert_eq!(pick("<1"), Some("0.9.0"));
        assert_eq!(pick("1.0 - 1.2.0"), Some("1.2.0"));
        assert_eq!(pick("0.9.0 || 1.0.0"), Some("1.0.0"));
        assert_eq!(pick("^1, != 1.4.0"), Some("v1.3.0"));
        assert_eq!(pick("3.x"), None);
    }

    #[test]
    fn pre_releases_only_when_asked_for() {
        assert_eq!(pick("1.4.0-rc.1"), Some("1.4.0-rc.1"));
        assert_eq!(pick(">=1.4.0-rc.1, <1.4.0"), Some("1.4.0-rc.1"));
        assert_eq!(pick(">=2.1.0-beta.1"), Some("2.1.0-beta.2"));
        assert_eq!(pick(">2.0.0"), None);
        assert_eq!(newest(VERSIONS.iter().copied(), None), Some("2.0.0"));
        assert_eq!(newest(["1.0.0-rc.1"], None), None);
    }

    #[test]
    fn build_metadata_does_not_break_an_exact_match() {
        let constraint = Constraint::parse("1.2.3").expect("parses");
        assert!(constraint.matches(&Version::parse("1.2.3+build.7").expect("version")));
        assert!(!constraint.matches(&Version::parse("1.2.4").expect("version")));
        assert!(!constraint.matches(&Version::parse("1.2.3-rc.1").expect("version")));
    }

    #[test]
    fn bad_constraints_say_what_is_wrong() {
        for (text, expected) in [
            ("", "an alternative is empty"),
            ("1.0 ||", "an alternative is empty"),
            ("!=1.2", "needs a full version"),
            (">=", "has no version"),
            ("%1.2", "unknown operator"),
            ("banana", "\"banana\""),
        ] {
            let error = Constraint::parse(text).expect_err(text);
            assert!(error.contains(expected), "{text:?}: {error}");
            assert!(error.starts_with("version constraint"), "{error}");
        }
    }
}
