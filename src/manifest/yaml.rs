//! One YAML file to its documents, read the way kubectl reads them (YAML 1.1 booleans, legacy
//! octal `0644`, duplicate keys refused), within limits that stop alias bombs and node storms.

use serde_saphyr::{Budget, DuplicateKeyPolicy, Options, Spanned};

use super::Limits;

/// Why a file did not parse: the message and the line (1-based) it points at, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseFailure {
    /// Where in the file.
    pub line: Option<usize>,
    /// What is wrong, without the file name.
    pub message: String,
}

/// The non-empty documents of `text` in order, each with the line its root node starts on.
pub fn documents(
    text: &str,
    limits: &Limits,
) -> Result<Vec<(usize, serde_json::Value)>, ParseFailure> {
    let values: Vec<Spanned<serde_json::Value>> =
        serde_saphyr::from_multiple_with_options(text, options(limits)).map_err(|error| {
            ParseFailure {
                line: error
                    .location()
                    .and_then(|location| usize::try_from(location.line()).ok())
                    .filter(|line| *line > 0),
                message: first_line(&error.to_string()),
            }
        })?;
    Ok(values
        .into_iter()
        .filter(|document| !document.value.is_null())
        .map(|document| {
            let line = usize::try_from(document.defined.line()).unwrap_or(1);
            (line, document.value)
        })
        .collect())
}

fn options(limits: &Limits) -> Options {
    let mut budget = Budget::default();
    budget.max_aliases = limits.max_aliases;
    budget.max_anchors = limits.max_aliases;
    budget.max_documents = limits.max_documents;
    let mut options = Options::default();
    options.budget = Some(budget);
    options.alias_limits.max_total_replayed_events = limits.max_alias_expansion;
    options.legacy_octal_numbers = true;
    options.duplicate_keys = DuplicateKeyPolicy::Error;
    options.with_snippet = false;
    options
}

/// serde-saphyr's messages may carry a location suffix or snippet; the problem line has its
/// own location, so keep the first line only.
fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or_default().trim().to_owned()
}

#[cfg(test)]
mod tests {
    use std::fmt::Write;

    use serde_json::json;

    use super::*;

    fn parse(text: &str) -> Result<Vec<(usize, serde_json::Value)>, ParseFailure> {
        documents(text, &Limits::default())
    }

    #[test]
    fn empty_documents_are_skipped_and_others_know_their_line() {
        let docs = parse("---\n---\na: 1\n---\n# nothing\n---\nb: 2\n--- {c: 3}\n").unwrap();
        assert_eq!(
            docs,
            [
                (3, json!({"a": 1})),
                (7, json!({"b": 2})),
                (8, json!({"c": 3}))
            ]
        );
    }

    #[test]
    fn scalars_read_as_kubectl_reads_them() {
        let docs = parse("mode: 0644\nenabled: yes\nport: \"80\"\n").unwrap();
        assert_eq!(
            docs[0].1,
            json!({"mode": 420, "enabled": true, "port": "80"})
        );
    }

    #[test]
    fn duplicate_keys_are_refused_with_their_line() {
        let failure = parse("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(failure.line, Some(3), "{failure:?}");
        assert!(failure.message.contains("duplicate"), "{}", failure.message);
    }

    #[test]
    fn syntax_errors_name_their_line() {
        let failure = parse("a: 1\nb: [1, 2\nc: 3\n").unwrap_err();
        assert!(failure.line.is_some(), "{failure:?}");
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for level in 1..=9 {
            let previous = level - 1;
            let _ = writeln!(
                bomb,
                "a{level}: &a{level} [*a{previous}, *a{previous}, *a{previous}, *a{previous}, \
                 *a{previous}, *a{previous}, *a{previous}, *a{previous}, *a{previous}, *a{previous}]"
            );
        }
        let failure = parse(&bomb).unwrap_err();
        assert!(!failure.message.is_empty());
    }
}
