//! Approval records: a file under `.tidegate/approvals/` on the tracked branch that releases a
//! Rollout's indefinite pause for one revision. Committed by `tidegate promote` or merged in a
//! promotion pull request; the renderer never reads `.tidegate/`.
//!
//! In: the record's text. Out: whether it approves a given revision. Pure.

use serde::{Deserialize, Serialize};

/// The directory of approval records (below the repository root).
pub const DIR: &str = ".tidegate/approvals";

/// One approval.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Approval {
    /// The Rollout's namespace.
    pub namespace: String,
    /// The Rollout's name.
    pub rollout: String,
    /// The pod-template hash of the approved revision.
    pub revision: String,
    /// The canary step whose pause it releases (counted from 0, as `currentStepIndex`);
    /// absent: any pause of the revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<usize>,
    /// Who approved (`tidegate promote --as`, default `$USER`); empty in a promotion pull
    /// request, whose merger is recorded instead.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub approved_by: String,
    /// Why, for the record.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

impl Approval {
    /// The record's path: one file per Rollout, replaced by each new approval.
    #[must_use]
    pub fn path(namespace: &str, rollout: &str) -> String {
        format!("{DIR}/{namespace}/{rollout}.yaml")
    }

    /// The file's content.
    #[must_use]
    pub fn to_yaml(&self) -> String {
        let mut text = String::from(
            "# Approval record: releases the pause of this Rollout for exactly this revision.\n",
        );
        text.push_str(&serde_saphyr::to_string(self).expect("approvals serialize"));
        text
    }

    /// Reads a record; `None` when the text is not one.
    #[must_use]
    pub fn from_yaml(text: &str) -> Option<Self> {
        serde_saphyr::from_str(text).ok()
    }

    /// Whether this releases the pause at `step` of `revision` of `namespace/rollout`: a
    /// record for another revision or step never does.
    #[must_use]
    pub fn approves(&self, namespace: &str, rollout: &str, revision: &str, step: usize) -> bool {
        self.namespace == namespace
            && self.rollout == rollout
            && self.revision == revision
            && self.step.is_none_or(|approved| approved == step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_approval_names_exactly_one_revision() {
        let approval = Approval {
            namespace: "shop".into(),
            rollout: "web".into(),
            revision: "6d4f8b9c7".into(),
            step: Some(3),
            approved_by: "alice".into(),
            reason: String::new(),
        };
        let read = Approval::from_yaml(&approval.to_yaml()).expect("reads back");
        assert_eq!(read, approval);
        assert!(read.approves("shop", "web", "6d4f8b9c7", 3));
        assert!(
            !read.approves("shop", "web", "6d4f8b9c7", 5),
            "another pause"
        );
        assert!(
            !read.approves("shop", "web", "55aa77bb8", 3),
            "another revision"
        );
        assert!(
            !read.approves("shop", "api", "6d4f8b9c7", 3),
            "another rollout"
        );
        let any_pause = Approval { step: None, ..read };
        assert!(any_pause.approves("shop", "web", "6d4f8b9c7", 5));
        assert_eq!(
            Approval::path("shop", "web"),
            ".tidegate/approvals/shop/web.yaml"
        );
        assert_eq!(Approval::from_yaml("namespace: shop\nunknown: 1\n"), None);
    }
}
