//! Field paths inside a document (`spec.strategy.canary.steps[0].setWeight`) and the line a
//! path starts on in the YAML text, so every problem can name its file, line and field.

use std::fmt;

use serde_saphyr::granit_parser::{Event, Parser, Span};

/// One step into a document: a mapping key or a sequence index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    /// A mapping key.
    Key(String),
    /// A sequence index.
    Index(usize),
}

/// A path from a document's root.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldPath(pub Vec<Segment>);

impl FieldPath {
    /// This path with one more key.
    #[must_use]
    pub fn key(&self, key: &str) -> Self {
        let mut path = self.clone();
        path.0.push(Segment::Key(key.to_owned()));
        path
    }

    /// This path with one more index.
    #[must_use]
    pub fn index(&self, index: usize) -> Self {
        let mut path = self.clone();
        path.0.push(Segment::Index(index));
        path
    }

    /// Reads the dotted form (`a.b[2].c`), as [`crate::model::SpecError`] paths are written.
    #[must_use]
    pub fn parse(text: &str) -> Self {
        let mut segments = Vec::new();
        for part in text.split('.').filter(|part| !part.is_empty()) {
            let mut rest = part;
            if let Some(open) = rest.find('[') {
                if open > 0 {
                    segments.push(Segment::Key(rest[..open].to_owned()));
                }
                rest = &rest[open..];
                while let Some(inner) = rest.strip_prefix('[') {
                    let Some(close) = inner.find(']') else { break };
                    match inner[..close].parse() {
                        Ok(index) => segments.push(Segment::Index(index)),
                        Err(_) => segments.push(Segment::Key(inner[..close].to_owned())),
                    }
                    rest = &inner[close + 1..];
                }
            } else {
                segments.push(Segment::Key(rest.to_owned()));
            }
        }
        Self(segments)
    }

    /// From the path serde_path_to_error tracked while deserializing.
    #[must_use]
    pub fn from_serde(path: &serde_path_to_error::Path) -> Self {
        use serde_path_to_error::Segment as S;
        Self(
            path.iter()
                .filter_map(|segment| match segment {
                    S::Seq { index } => Some(Segment::Index(*index)),
                    S::Map { key } | S::Enum { variant: key } => Some(Segment::Key(key.clone())),
                    S::Unknown => None,
                })
                .collect(),
        )
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (position, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(key) if position == 0 => write!(f, "{key}")?,
                Segment::Key(key) if key.contains('.') => write!(f, "[{key}]")?,
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// Where a YAML event walk stands: inside a mapping (at its key, once read) or a sequence
/// (at its next index).
pub(crate) enum Frame {
    Mapping { key: Option<String> },
    Sequence { next: usize },
}

/// The line (1-based) where `path` starts in the document whose root node starts on line
/// `document`, or where its deepest existing ancestor starts. `None` only when the text does
/// not parse or has no such document.
#[must_use]
pub fn line_of(text: &str, document: usize, path: &FieldPath) -> Option<usize> {
    let mut best: Option<(usize, usize)> = None; // (matched depth, line)
    let parsed = walk(text, document, |stack, _, span, _| {
        note_match(stack, path, span.start.line(), &mut best);
    });
    if !parsed {
        return None;
    }
    best.map(|(_, line)| line)
}

/// Walks the document of `text` whose root node starts on line `document`, calling `visit`
/// with the frames around each node (before the node is entered) and each mapping key (after
/// it is read: the frames then end at that key; the last argument is `true`). Stops at the
/// document's end or a complex key; `false` when the text does not parse.
pub(crate) fn walk(
    text: &str,
    document: usize,
    mut visit: impl FnMut(&[Frame], &Event<'_>, &Span, bool),
) -> bool {
    let mut in_document = false;
    let mut at_root = false;
    let mut stack: Vec<Frame> = Vec::new();
    for item in Parser::new_from_str(text) {
        let Ok((event, span)) = item else {
            return false;
        };
        match event {
            Event::DocumentStart(..) => {
                at_root = true;
                stack.clear();
            }
            Event::DocumentEnd if in_document => return true,
            Event::Scalar(..)
            | Event::MappingStart(..)
            | Event::SequenceStart(..)
            | Event::Alias(..)
                if at_root || in_document =>
            {
                if at_root {
                    at_root = false;
                    in_document = span.start.line() == document;
                    if !in_document {
                        continue;
                    }
                }
                // A scalar in key position names the next value; anything else is a node.
                if let Some(Frame::Mapping { key }) = stack.last_mut()
                    && key.is_none()
                {
                    let Event::Scalar(value, ..) = &event else {
                        // A complex key: nothing tidegate points at lives under one.
                        return true;
                    };
                    *key = Some(value.to_string());
                    visit(&stack, &event, &span, true);
                    continue;
                }
                visit(&stack, &event, &span, false);
                match event {
                    Event::MappingStart(..) => stack.push(Frame::Mapping { key: None }),
                    Event::SequenceStart(..) => stack.push(Frame::Sequence { next: 0 }),
                    _ => advance(&mut stack),
                }
            }
            Event::MappingEnd | Event::SequenceEnd if in_document => {
                stack.pop();
                advance(&mut stack);
            }
            _ => {}
        }
    }
    true
}

/// After a value: the mapping waits for its next key, the sequence moves to its next item.
fn advance(stack: &mut [Frame]) {
    match stack.last_mut() {
        Some(Frame::Mapping { key }) => *key = None,
        Some(Frame::Sequence { next }) => *next += 1,
        None => {}
    }
}

/// Records `line` when the node at the top of `stack` lies on `path` deeper than before.
fn note_match(stack: &[Frame], path: &FieldPath, line: usize, best: &mut Option<(usize, usize)>) {
    let mut depth = 0;
    for (frame, segment) in stack.iter().zip(&path.0) {
        let matches = match (frame, segment) {
            (Frame::Mapping { key: Some(key) }, Segment::Key(wanted)) => key == wanted,
            (Frame::Sequence { next }, Segment::Index(wanted)) => next == wanted,
            _ => false,
        };
        if !matches {
            return;
        }
        depth += 1;
    }
    if depth == stack.len() && best.is_none_or(|(seen, _)| depth > seen) {
        *best = Some((depth, line));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
a: 1
---
apiVersion: v1
kind: Rollout
spec:
  strategy:
    canary:
      steps:
      - setWeight: 20
      - pause: {}
      - setWeigth: 40
  replicas: 3
";

    #[test]
    fn paths_print_and_parse_alike() {
        let text = "spec.strategy.canary.steps[2].setWeight";
        assert_eq!(FieldPath::parse(text).to_string(), text);
        let labelled = FieldPath::default()
            .key("metadata")
            .key("labels")
            .key("app.kubernetes.io/name");
        assert_eq!(
            labelled.to_string(),
            "metadata.labels[app.kubernetes.io/name]"
        );
    }

    #[test]
    fn lines_are_found_per_document() {
        let at = |path: &str| line_of(TEXT, 3, &FieldPath::parse(path));
        assert_eq!(at("kind"), Some(4));
        assert_eq!(at("spec.strategy.canary.steps[2].setWeigth"), Some(11));
        assert_eq!(at("spec.strategy.canary.steps[1].pause"), Some(10));
        assert_eq!(at("spec.replicas"), Some(12));
        assert_eq!(line_of(TEXT, 1, &FieldPath::parse("a")), Some(1));
        assert_eq!(line_of(TEXT, 2, &FieldPath::parse("a")), None);
    }

    #[test]
    fn a_missing_field_points_at_its_deepest_ancestor() {
        let at = |path: &str| line_of(TEXT, 3, &FieldPath::parse(path));
        assert_eq!(at("spec.strategy.blueGreen.activeService"), Some(6));
        assert_eq!(at(""), Some(3));
    }
}
