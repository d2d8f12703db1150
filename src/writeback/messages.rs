//! The texts tidegate writes to Git and the forge — revert commit messages, pull-request
//! titles and bodies, comments — with everything that comes from Git, the cluster or an
//! analysis escaped for where it goes ([`crate::escape`]): a commit message gains no line or
//! trailer, a pull request no heading, link, mention or broken code span.
//!
//! Pure: facts in, text out.

use crate::escape;

/// The longest subject line written.
const SUBJECT: usize = 200;

/// The message of the commit reverting `offending` (whose subject is `subject`) after Rollout
/// `rollout` aborted for `reason`, ending in tidegate's `trailer` — the only trailer in it.
#[must_use]
pub fn revert_commit(
    subject: &str,
    rollout: &str,
    reason: &str,
    offending: &str,
    trailer: &str,
) -> String {
    format!(
        "Revert \"{}\"\n\n{}: {}\n\nThis reverts commit {offending}.\n\n{trailer}: {offending}\n",
        escape::one_line(subject, SUBJECT),
        escape::one_line(rollout, SUBJECT),
        escape::one_line(reason, 4 * SUBJECT),
    )
}

/// The title and body of the pull request proposing a revert.
#[must_use]
pub fn revert_pull(subject: &str, rollout: &str, reason: &str) -> (String, String) {
    (
        format!("Revert \"{}\"", escape::one_line(subject, SUBJECT)),
        format!(
            "Rollout {} aborted: {}\n\nMerging this reverts the change so Git matches the cluster again.",
            escape::code(rollout),
            escape::prose(reason)
        ),
    )
}

/// What a promotion pull request says about the pause it releases.
#[derive(Clone, Copy, Debug)]
pub struct Pause<'a> {
    /// The Rollout's namespace.
    pub namespace: &'a str,
    /// The Rollout.
    pub name: &'a str,
    /// The revision's pod-template hash.
    pub revision: &'a str,
    /// Its images.
    pub images: &'a [String],
    /// The step paused at, from 0.
    pub step: usize,
    /// Steps in the plan.
    pub steps: usize,
    /// The approval record the pull request adds.
    pub record: &'a str,
}

/// The title and body of the pull request that releases a pause when merged.
#[must_use]
pub fn promotion_pull(pause: &Pause<'_>) -> (String, String) {
    let images = pause.images.join(", ");
    let title = format!(
        "Promote {}/{} to {} ({})",
        pause.namespace,
        pause.name,
        escape::one_line(&images, SUBJECT),
        pause.revision
    );
    let body = format!(
        "Rollout {} is paused at step {}/{} and waits for approval of revision {} ({}).\n\n\
         **Merge** this pull request to continue the rollout. **Close** it to abort.\n\n\
         The record it adds, {}, approves this revision at this step only.",
        escape::code(&format!("{}/{}", pause.namespace, pause.name)),
        pause.step + 1,
        pause.steps.max(1),
        escape::code(pause.revision),
        escape::code(&images),
        escape::code(pause.record),
    );
    (title, body)
}

/// The comment on a promotion pull request whose pause was released by `by`.
#[must_use]
pub fn released(rollout: &str, step: usize, by: &str) -> String {
    format!(
        "tidegate released the pause of {} at step {}: approved by {}.",
        escape::code(rollout),
        step + 1,
        escape::prose(by)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::escape::tests::HOSTILE;
    use crate::writeback::revert::{TRAILER, reverted_by_trailer};

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn a_revert_commit_has_one_trailer_whatever_it_quotes() {
        for hostile in HOSTILE {
            let message = revert_commit(hostile, "shop/web", hostile, SHA, TRAILER);
            assert_eq!(
                message
                    .lines()
                    .next()
                    .map(|line| line.starts_with("Revert \"")),
                Some(true)
            );
            assert_eq!(
                message
                    .lines()
                    .filter(|line| line.starts_with(TRAILER))
                    .count(),
                1,
                "{hostile:?}:\n{message}"
            );
            assert_eq!(reverted_by_trailer(&message).as_deref(), Some(SHA));
            assert_eq!(message.lines().count(), 7, "{hostile:?}:\n{message}");
        }
    }

    #[test]
    fn pull_requests_and_comments_keep_their_shape() {
        for hostile in HOSTILE {
            let (title, body) = revert_pull(hostile, "shop/web", hostile);
            assert!(!title.contains('\n'), "{title:?}");
            assert_eq!(body.lines().count(), 3, "{hostile:?}:\n{body}");
            let images = vec![(*hostile).to_owned()];
            let (title, body) = promotion_pull(&Pause {
                namespace: "shop",
                name: "web",
                revision: "6c9f8",
                images: &images,
                step: 1,
                steps: 3,
                record: ".tidegate/approvals/shop/web.yaml",
            });
            assert!(!title.contains('\n'), "{title:?}");
            assert_eq!(body.lines().count(), 5, "{hostile:?}:\n{body}");
            let rendered = crate::escape::tests::outside_code(&body);
            for markup in ["<img", "<script", "@admin", "\n# injected", "](https"] {
                assert!(
                    !rendered.contains(markup),
                    "{hostile:?} keeps {markup:?}:\n{body}"
                );
            }
            let comment = released("shop/web", 1, hostile);
            assert_eq!(comment.lines().count(), 1, "{comment}");
            assert!(
                !comment.contains("@admin") && !comment.contains("@org"),
                "{comment}"
            );
        }
    }
}
