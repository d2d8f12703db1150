//! Editing one field of one object in a YAML manifest as a person would: the value's text is
//! replaced (or one `key: value` line added to a block mapping), and every other byte —
//! comments, order, quoting, other documents — stays as it was.
//!
//! Used by the CLI actions that change desired state through Git (`tidegate set image`,
//! `tidegate pause`). Every edit is checked by reading the file again: the object must differ
//! in that field only, or nothing is written.
//!
//! In: the file's text, the object (kind and name), the field and its new value. Out: the new
//! text, or why the edit cannot be made. Pure.

use serde_json::Value;
use serde_saphyr::granit_parser::Event;

use crate::manifest::Limits;
use crate::manifest::path::{FieldPath, Frame, Segment, walk};

/// Why an edit was not made.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EditError {
    /// The file does not parse.
    #[error("{file} does not parse: {message}")]
    Parse {
        /// The file.
        file: String,
        /// The parser's message, with its line.
        message: String,
    },
    /// No document, or more than one, is the object.
    #[error("{file} holds {count} {kind} named {name:?} (expected exactly one)")]
    Object {
        /// The file.
        file: String,
        /// The kind looked for.
        kind: String,
        /// The name looked for.
        name: String,
        /// How many documents matched.
        count: usize,
    },
    /// The field (or the mapping that would hold it) is not where an edit can be made.
    #[error("{file}:{line}: {message}")]
    Field {
        /// The file.
        file: String,
        /// The line the problem is on.
        line: usize,
        /// What is wrong, naming the field.
        message: String,
    },
}

/// The object an edit is for.
#[derive(Clone, Copy, Debug)]
pub struct Object<'a> {
    /// The file's path (for messages).
    pub file: &'a str,
    /// `kind` of the document.
    pub kind: &'a str,
    /// `metadata.name` of the document.
    pub name: &'a str,
}

/// `text` with the field at `path` of `object` set to `value` (a string, boolean or number).
/// A missing last key is added to its block mapping, which must exist.
pub fn set(
    text: &str,
    object: Object<'_>,
    path: &FieldPath,
    value: &Value,
) -> Result<String, EditError> {
    let (document_line, before) = document(text, object)?;
    if lookup(&before, path) == Some(value) {
        return Ok(text.to_owned());
    }
    let field_error = |line: usize, message: String| EditError::Field {
        file: object.file.to_owned(),
        line,
        message,
    };
    let nodes = Nodes::new(text);
    let (edited, line) = match nodes.find(document_line, path) {
        Some(Found::Scalar {
            start,
            end,
            line,
            quoted,
        }) => {
            let mut edited = text.to_owned();
            edited.replace_range(start..end, &render(value, quoted));
            (edited, line)
        }
        Some(Found::Collection { line }) => {
            return Err(field_error(
                line,
                format!("{path} is a mapping or a list, not a value"),
            ));
        }
        Some(Found::Alias { line }) => {
            return Err(field_error(
                line,
                format!("{path} is an alias: edit its anchor by hand"),
            ));
        }
        None => {
            let (parent, key) = split_last(path)
                .ok_or_else(|| field_error(document_line, format!("{path} names no field")))?;
            let parent_line = match nodes.find(document_line, &parent) {
                Some(Found::Collection { line }) => line,
                Some(Found::Scalar { line, .. } | Found::Alias { line }) => {
                    return Err(field_error(
                        line,
                        format!("{parent} is a value, not a mapping"),
                    ));
                }
                None => {
                    // Named at its deepest ancestor that is there.
                    let line = crate::manifest::path::line_of(text, document_line, &parent)
                        .unwrap_or(document_line);
                    return Err(field_error(
                        line,
                        format!("{parent} is not in the document"),
                    ));
                }
            };
            let Some((offset, column)) = nodes.first_key(document_line, &parent) else {
                return Err(field_error(
                    parent_line,
                    format!("{parent} is an empty or flow-style mapping: add {key} by hand"),
                ));
            };
            let mut edited = text.to_owned();
            let line = format!("{}{key}: {}\n", " ".repeat(column), render(value, false));
            edited.insert_str(offset, &line);
            (edited, parent_line)
        }
    };
    if document(&edited, object).map(|(_, after)| after) != Ok(with(&before, path, value)) {
        return Err(field_error(
            line,
            format!(
                "{path}: the edit would change more than this field (an anchor used elsewhere?): edit the file by hand"
            ),
        ));
    }
    Ok(edited)
}

/// `text` with the block at `path` of `object` replaced by that block of `source` (the same
/// object's file at an earlier commit, named `source_name` in messages), re-indented to where
/// it goes. Both must be block-style (`key:` with its value on the lines below).
pub fn copy_block(
    text: &str,
    object: Object<'_>,
    path: &FieldPath,
    source: &str,
    source_name: &str,
) -> Result<String, EditError> {
    let (document_line, before) = document(text, object)?;
    let from = Object {
        file: source_name,
        ..object
    };
    let (source_line, earlier) = document(source, from)?;
    let field_error = |file: &str, line: usize, message: String| EditError::Field {
        file: file.to_owned(),
        line,
        message,
    };
    let Some(value) = lookup(&earlier, path) else {
        return Err(field_error(
            source_name,
            source_line,
            format!("{path} is not there"),
        ));
    };
    if lookup(&before, path) == Some(value) {
        return Ok(text.to_owned());
    }
    let block_of = |text: &str, file: &str, document: usize| {
        Nodes::new(text).block(document, path).ok_or_else(|| {
            let line = crate::manifest::path::line_of(text, document, path).unwrap_or(document);
            field_error(
                file,
                line,
                format!("{path} is not a block-style mapping or list"),
            )
        })
    };
    let target = block_of(text, object.file, document_line)?;
    let copied = block_of(source, source_name, source_line)?;
    let lines = reindent(
        &source[copied.lines.clone()],
        copied.key_column,
        target.key_column,
    )
    .ok_or_else(|| {
        field_error(
            source_name,
            copied.key_line,
            format!("{path} cannot be re-indented"),
        )
    })?;
    let mut edited = text.to_owned();
    edited.replace_range(target.lines.clone(), &lines);
    if document(&edited, object).map(|(_, after)| after) != Ok(with(&before, path, value)) {
        return Err(field_error(
            object.file,
            target.key_line,
            format!("{path}: the copy would change more than this field: edit the file by hand"),
        ));
    }
    Ok(edited)
}

/// `lines` moved from indentation `from` to `to` (each line's own indentation kept relative);
/// `None` if a line has too little indentation to move left.
fn reindent(lines: &str, from: usize, to: usize) -> Option<String> {
    let mut out = String::with_capacity(lines.len());
    for line in lines.split_inclusive('\n') {
        if to >= from || line.trim().is_empty() {
            if !line.trim().is_empty() {
                out.push_str(&" ".repeat(to - from.min(to)));
            }
            out.push_str(line);
        } else {
            let cut = from - to;
            line.get(..cut)
                .filter(|indent| indent.chars().all(|c| c == ' '))?;
            out.push_str(&line[cut..]);
        }
    }
    Some(out)
}

/// The value at `path` of `object` in `text`, if there is one.
pub fn get(text: &str, object: Object<'_>, path: &FieldPath) -> Result<Option<Value>, EditError> {
    let (_, document) = document(text, object)?;
    Ok(lookup(&document, path).cloned())
}

/// The one document of `text` that is `object`: the line its root starts on, and its value.
fn document(text: &str, object: Object<'_>) -> Result<(usize, Value), EditError> {
    let documents =
        crate::manifest::yaml::documents(text, &Limits::default()).map_err(|failure| {
            EditError::Parse {
                file: object.file.to_owned(),
                message: match failure.line {
                    Some(line) => format!("line {line}: {}", failure.message),
                    None => failure.message,
                },
            }
        })?;
    let mut matching: Vec<(usize, Value)> = documents
        .into_iter()
        .filter(|(_, value)| {
            value.get("kind").and_then(Value::as_str) == Some(object.kind)
                && value.pointer("/metadata/name").and_then(Value::as_str) == Some(object.name)
        })
        .collect();
    if matching.len() == 1 {
        Ok(matching.remove(0))
    } else {
        Err(EditError::Object {
            file: object.file.to_owned(),
            kind: object.kind.to_owned(),
            name: object.name.to_owned(),
            count: matching.len(),
        })
    }
}

/// `document` with `value` at `path` (the last key added to its mapping if missing).
fn with(document: &Value, path: &FieldPath, value: &Value) -> Value {
    let mut expected = document.clone();
    if let Some(slot) = lookup_mut(&mut expected, path) {
        *slot = value.clone();
    }
    expected
}

fn lookup<'v>(value: &'v Value, path: &FieldPath) -> Option<&'v Value> {
    path.0
        .iter()
        .try_fold(value, |value, segment| match segment {
            Segment::Key(key) => value.get(key),
            Segment::Index(index) => value.get(index),
        })
}

/// The slot at `path`, created as the last key of its (existing) mapping if missing.
fn lookup_mut<'v>(value: &'v mut Value, path: &FieldPath) -> Option<&'v mut Value> {
    let (last, parents) = path.0.split_last()?;
    let parent = parents
        .iter()
        .try_fold(value, |value, segment| match segment {
            Segment::Key(key) => value.get_mut(key),
            Segment::Index(index) => value.get_mut(index),
        })?;
    match last {
        Segment::Key(key) => Some(
            parent
                .as_object_mut()?
                .entry(key.clone())
                .or_insert(Value::Null),
        ),
        Segment::Index(index) => parent.get_mut(index),
    }
}

fn split_last(path: &FieldPath) -> Option<(FieldPath, String)> {
    let (last, parents) = path.0.split_last()?;
    match last {
        Segment::Key(key) => Some((FieldPath(parents.to_vec()), key.clone())),
        Segment::Index(_) => None,
    }
}

/// `value` as YAML text: plain when that reads back as the same string, else double-quoted
/// (JSON's escaping is YAML's). A value that was quoted stays quoted.
fn render(value: &Value, quoted: bool) -> String {
    match value {
        Value::String(text) if !quoted && plain_is_safe(text) => text.clone(),
        Value::String(text) => Value::String(text.clone()).to_string(),
        other => other.to_string(),
    }
}

/// Whether `text` written plain reads back as this string (not a number, boolean, null or
/// anything YAML gives a meaning).
fn plain_is_safe(text: &str) -> bool {
    let simple = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '/' | ':' | '@' | '-' | '_' | '+'))
        && text.starts_with(|c: char| c.is_ascii_alphanumeric())
        && !text.contains("://");
    simple
        && serde_saphyr::from_str::<Value>(text)
            .is_ok_and(|read| read == Value::String(text.to_owned()))
}

/// A node found at a path.
#[derive(Debug, PartialEq, Eq)]
enum Found {
    /// A scalar: its bytes in the text, its line, whether it is quoted.
    Scalar {
        start: usize,
        end: usize,
        line: usize,
        quoted: bool,
    },
    /// A mapping or a sequence, starting on `line`.
    Collection { line: usize },
    /// An alias of an anchor elsewhere.
    Alias { line: usize },
}

/// The lines a block-style value spans.
#[derive(Debug)]
struct Block {
    /// Its lines' bytes, from the start of its first line to the end of its last.
    lines: std::ops::Range<usize>,
    /// The line of its key.
    key_line: usize,
    /// The column of its key.
    key_column: usize,
}

/// The YAML events of a text, with byte offsets.
struct Nodes<'t> {
    text: &'t str,
    /// Byte offset of each character, and of the end.
    offsets: Vec<usize>,
}

impl<'t> Nodes<'t> {
    fn new(text: &'t str) -> Self {
        let offsets = text
            .char_indices()
            .map(|(offset, _)| offset)
            .chain(std::iter::once(text.len()))
            .collect();
        Self { text, offsets }
    }

    fn byte(&self, char_index: usize) -> usize {
        self.offsets
            .get(char_index)
            .copied()
            .unwrap_or(self.text.len())
    }

    /// The node at `path` in the document whose root starts on `document`.
    fn find(&self, document: usize, path: &FieldPath) -> Option<Found> {
        let mut found = None;
        let mut key_line = document;
        walk(self.text, document, |stack, event, span, is_key| {
            if is_key {
                key_line = span.start.line();
                return;
            }
            if found.is_some() || !at(stack, path) {
                return;
            }
            // A collection is named by the line of its key (its own span starts inside it).
            let line = match path.0.last() {
                Some(Segment::Key(_)) => key_line,
                _ => span.start.line(),
            };
            found = match event {
                Event::Scalar(..) => {
                    let (start, end) = (self.byte(span.start.index()), self.byte(span.end.index()));
                    let quoted = self.text[start..].starts_with(['"', '\'']);
                    Some(Found::Scalar {
                        start,
                        end,
                        line: span.start.line(),
                        quoted,
                    })
                }
                Event::Alias(..) => Some(Found::Alias { line }),
                _ => Some(Found::Collection { line }),
            };
        });
        found
    }

    /// The lines of the block-style value at `path` (a key's value that starts on a later
    /// line than the key); `None` otherwise.
    fn block(&self, document: usize, path: &FieldPath) -> Option<Block> {
        let mut key: Option<(usize, usize)> = None; // (line, column) of the path's key
        let (mut first, mut last): (Option<usize>, Option<usize>) = (None, None);
        walk(self.text, document, |stack, _, span, is_key| {
            if is_key && at(stack, path) {
                key = Some((span.start.line(), span.start.col()));
                return;
            }
            let inside = stack.len() > path.0.len() && at(&stack[..path.0.len()], path);
            if inside || (!is_key && at(stack, path)) {
                let (start, end) = (self.byte(span.start.index()), self.byte(span.end.index()));
                first = Some(first.map_or(start, |first| first.min(start)));
                last = Some(last.map_or(end, |last| last.max(end)));
            }
        });
        let ((key_line, key_column), first, last) = (key?, first?, last?);
        let line_start = self.text[..first]
            .rfind('\n')
            .map_or(0, |newline| newline + 1);
        let line_end = self.text[last..]
            .find('\n')
            .map_or(self.text.len(), |newline| last + newline + 1);
        let starts_below = self.text[..line_start].matches('\n').count() + 1 > key_line;
        let indented = self.text[line_start..first]
            .chars()
            .all(|c| c == ' ' || c == '-');
        (starts_below && indented).then_some(Block {
            lines: line_start..line_end,
            key_line,
            key_column,
        })
    }

    /// For the block mapping at `path`: the byte offset where its first key's line starts and
    /// that key's column — where a new key line goes. `None` for a flow or empty mapping.
    fn first_key(&self, document: usize, path: &FieldPath) -> Option<(usize, usize)> {
        let mut first = None;
        let mut seen = false;
        walk(self.text, document, |stack, _, span, is_key| {
            if !is_key
                || seen
                || stack.len() != path.0.len() + 1
                || !at(&stack[..path.0.len()], path)
            {
                return;
            }
            seen = true;
            let start = self.byte(span.start.index());
            let line_start = self.text[..start]
                .rfind('\n')
                .map_or(0, |newline| newline + 1);
            let indent = &self.text[line_start..start];
            if indent.chars().all(|c| c == ' ') {
                first = Some((line_start, indent.len()));
            }
        });
        first
    }
}

/// Whether the frames point exactly at `path` (a value's position, not a key's).
fn at(stack: &[Frame], path: &FieldPath) -> bool {
    stack.len() == path.0.len()
        && stack
            .iter()
            .zip(&path.0)
            .all(|(frame, segment)| match (frame, segment) {
                (Frame::Mapping { key: Some(key) }, Segment::Key(wanted)) => key == wanted,
                (Frame::Sequence { next }, Segment::Index(wanted)) => next == wanted,
                _ => false,
            })
}

#[cfg(test)]
mod tests;
