//! Typo hints: which of the names someone could have meant is closest to what they wrote
//! ("unknown field (did you mean "setWeight"?)", "no Rollout named wbe; did you mean web?").

/// Levenshtein distance between `a` and `b`, in characters.
#[must_use]
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

/// The candidate closest to `wanted`, if one is close enough to be a typo (at most two edits,
/// and fewer than half its length).
#[must_use]
pub fn closest<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = 2.min(wanted.chars().count().div_ceil(2));
    candidates
        .into_iter()
        .map(|candidate| (edit_distance(wanted, candidate), candidate))
        .filter(|(distance, _)| *distance <= limit)
        .min()
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_count_edits() {
        assert_eq!(edit_distance("setWeigth", "setWeight"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("web", "web"), 0);
    }

    #[test]
    fn only_close_names_are_suggested() {
        assert_eq!(closest("wbe", ["web", "checkout"]), Some("web"));
        assert_eq!(closest("checkuot", ["web", "checkout"]), Some("checkout"));
        assert_eq!(closest("colour", ["weight", "pause"]), None);
        assert_eq!(closest("a", ["b"]), Some("b"));
        assert_eq!(closest("ab", ["xy"]), None);
    }
}
