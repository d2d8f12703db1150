//! Downward-API field paths into an object's metadata — `metadata.name`,
//! `metadata.namespace`, `metadata.uid`, `metadata.labels['k']`, `metadata.annotations['k']` —
//! read the one way tidegate reads them (analysis arguments of a Rollout and of a run).
//!
//! Pure: a path and metadata in, a value out.

use super::ObjectMeta;

/// A field a path names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field<'a> {
    /// `metadata.name`.
    Name,
    /// `metadata.namespace`.
    Namespace,
    /// `metadata.uid`.
    Uid,
    /// `metadata.labels['<key>']`.
    Label(&'a str),
    /// `metadata.annotations['<key>']`.
    Annotation(&'a str),
}

/// The field `path` names, or `None` when it names none tidegate reads.
#[must_use]
pub fn parse(path: &str) -> Option<Field<'_>> {
    let keyed = |prefix: &str| {
        path.strip_prefix(prefix)?
            .strip_prefix("['")?
            .strip_suffix("']")
            .filter(|key| !key.is_empty())
    };
    match path {
        "metadata.name" => Some(Field::Name),
        "metadata.namespace" => Some(Field::Namespace),
        "metadata.uid" => Some(Field::Uid),
        _ => keyed("metadata.labels")
            .map(Field::Label)
            .or_else(|| keyed("metadata.annotations").map(Field::Annotation)),
    }
}

/// The value at `path` in `metadata`, if the path names a field and it is set.
#[must_use]
pub fn resolve(metadata: &ObjectMeta, path: &str) -> Option<String> {
    match parse(path)? {
        Field::Name => metadata.name.clone(),
        Field::Namespace => metadata.namespace.clone(),
        Field::Uid => metadata.uid.clone(),
        Field::Label(key) => metadata.labels.as_ref()?.get(key).cloned(),
        Field::Annotation(key) => metadata.annotations.as_ref()?.get(key).cloned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_like_the_downward_api() {
        let metadata = ObjectMeta {
            name: Some("web".into()),
            namespace: Some("shop".into()),
            uid: Some("u-1".into()),
            labels: Some([("app".to_owned(), "web".to_owned())].into()),
            annotations: Some([("team/owner".to_owned(), "payments".to_owned())].into()),
            ..ObjectMeta::default()
        };
        let cases = [
            ("metadata.name", Some("web")),
            ("metadata.namespace", Some("shop")),
            ("metadata.uid", Some("u-1")),
            ("metadata.labels['app']", Some("web")),
            ("metadata.annotations['team/owner']", Some("payments")),
            ("metadata.labels['missing']", None),
            ("metadata.labels['']", None),
            ("metadata.labels[app]", None),
            ("spec.replicas", None),
        ];
        for (path, expected) in cases {
            assert_eq!(resolve(&metadata, path).as_deref(), expected, "{path}");
        }
        assert_eq!(parse("metadata.labels['']"), None);
        assert_eq!(
            parse("metadata.annotations['a']"),
            Some(Field::Annotation("a"))
        );
    }
}
