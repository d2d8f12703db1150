//! Each dialect against a local recorder: exact paths, headers and bodies, and the retries.

use std::time::Duration;

use serde_json::json;

use super::*;
use crate::recorder::Recorder;

const TOKEN: &str = "t0ken-for-tests";

/// A token file shared by the tests of this process, written once (a rewrite could be read
/// half-done by another test).
fn token() -> SecretRef {
    static PATH: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    let path = PATH.get_or_init(|| {
        let path =
            std::env::temp_dir().join(format!("tidegate-forge-token-{}", std::process::id()));
        std::fs::write(&path, TOKEN).expect("write the token file");
        path
    });
    SecretRef {
        file: Some(path.clone()),
        env: None,
    }
}

fn fast() -> Retry {
    Retry {
        attempts: 3,
        first_wait: Duration::from_millis(10),
        max_wait: Duration::from_millis(50),
    }
}

fn status(state: StatusState) -> CommitStatus {
    CommitStatus {
        state,
        context: "tidegate/shop/web".into(),
        description: "step 2/5: weight 40%".into(),
    }
}

#[tokio::test]
async fn github_statuses_pulls_and_comments_have_the_documented_shape() {
    let pull = json!({"number": 7, "html_url": "https://github.com/acme/shop/pull/7",
        "state": "open", "merged": false, "head": {"ref": "tidegate/promote/shop-web"}});
    let (recorder, url) = Recorder::start(vec![
        (201, vec![], json!({})),
        (200, vec![], json!([])),
        (201, vec![], pull.clone()),
        (201, vec![], json!({})),
    ])
    .await;
    // Enterprise Server lives under /api/v3 of its web address.
    let forge = Forge::new(Kind::GitHub, &url, "acme/shop", token()).with_retry(fast());
    forge
        .set_status("a1b2c3", &status(StatusState::Failure))
        .await
        .expect("status");
    let new = NewPull {
        title: "Promote shop/web to 1.2.0".into(),
        head: "tidegate/promote/shop-web".into(),
        base: "main".into(),
        body: "Merging releases the pause.".into(),
    };
    let opened = forge.open_pull(&new).await.expect("pull");
    assert_eq!(opened.number, 7);
    assert_eq!(opened.state, PullState::Open);
    forge.comment(7, "Promoted.").await.expect("comment");

    let seen = recorder.take();
    let requests: Vec<(Method, &str)> = seen
        .iter()
        .map(|s| (s.method.clone(), s.uri.as_str()))
        .collect();
    assert_eq!(
        requests,
        [
            (Method::POST, "/api/v3/repos/acme/shop/statuses/a1b2c3"),
            (
                Method::GET,
                "/api/v3/repos/acme/shop/pulls?state=open&head=acme%3Atidegate%2Fpromote%2Fshop-web"
            ),
            (Method::POST, "/api/v3/repos/acme/shop/pulls"),
            (Method::POST, "/api/v3/repos/acme/shop/issues/7/comments"),
        ]
    );
    for request in &seen {
        assert_eq!(request.header("authorization"), [format!("Bearer {TOKEN}")]);
        assert_eq!(request.header("accept"), ["application/vnd.github+json"]);
        assert_eq!(request.header("x-github-api-version"), ["2022-11-28"]);
        assert!(request.header("user-agent")[0].starts_with("tidegate/"));
    }
    assert_eq!(
        seen[0].body,
        json!({"state": "failure", "context": "tidegate/shop/web", "description": "step 2/5: weight 40%"})
    );
    assert_eq!(
        seen[2].body,
        json!({"title": "Promote shop/web to 1.2.0", "head": "tidegate/promote/shop-web",
            "base": "main", "body": "Merging releases the pause."})
    );
    assert_eq!(seen[3].body, json!({"body": "Promoted."}));
}

#[tokio::test]
async fn github_reuses_the_open_pull_request_of_a_branch() {
    let pull = json!({"number": 3, "html_url": "u", "state": "open", "merged": false,
        "head": {"ref": "tidegate/promote/x"}});
    let (recorder, url) = Recorder::start(vec![(200, vec![], json!([pull]))]).await;
    let forge = Forge::new(Kind::GitHub, &url, "acme/shop", token()).with_retry(fast());
    let new = NewPull {
        title: "t".into(),
        head: "tidegate/promote/x".into(),
        base: "main".into(),
        body: String::new(),
    };
    assert_eq!(forge.open_pull(&new).await.expect("pull").number, 3);
    assert_eq!(recorder.take().len(), 1, "no second pull request is opened");
}

#[tokio::test]
async fn github_merge_state_and_merger_are_read() {
    let merged = json!({"number": 9, "html_url": "u", "state": "closed", "merged": true,
        "merged_by": {"login": "alice"}, "head": {"ref": "b"}});
    let closed = json!({"number": 9, "html_url": "u", "state": "closed", "merged": false,
        "merged_by": null, "head": {"ref": "b"}});
    let (recorder, url) = Recorder::start(vec![(200, vec![], merged), (200, vec![], closed)]).await;
    let forge = Forge::new(Kind::GitHub, &url, "acme/shop", token()).with_retry(fast());
    let pull = forge.pull(9).await.expect("pull");
    assert_eq!(
        (pull.state, pull.merged_by.as_deref()),
        (PullState::Merged, Some("alice"))
    );
    assert_eq!(forge.pull(9).await.expect("pull").state, PullState::Closed);
    assert_eq!(recorder.take()[0].uri, "/api/v3/repos/acme/shop/pulls/9");
}

#[tokio::test]
async fn gitlab_statuses_merge_requests_and_notes_have_the_documented_shape() {
    let request = json!({"iid": 4, "web_url": "https://gitlab.example/g/shop/-/merge_requests/4",
        "state": "merged", "source_branch": "tidegate/promote/web",
        "merged_by": {"username": "bob"}});
    let (recorder, url) = Recorder::start(vec![
        (201, vec![], json!({})),
        (200, vec![], json!([])),
        (201, vec![], request.clone()),
        (200, vec![], request),
        (201, vec![], json!({})),
    ])
    .await;
    let forge = Forge::new(Kind::GitLab, &url, "group/sub/shop", token()).with_retry(fast());
    forge
        .set_status("ff00", &status(StatusState::Pending))
        .await
        .expect("status");
    let new = NewPull {
        title: "Revert web".into(),
        head: "tidegate/promote/web".into(),
        base: "main".into(),
        body: "why".into(),
    };
    forge.open_pull(&new).await.expect("merge request");
    let pull = forge.pull(4).await.expect("merge request");
    assert_eq!(
        (pull.state, pull.merged_by.as_deref()),
        (PullState::Merged, Some("bob"))
    );
    forge.comment(4, "note").await.expect("note");

    let seen = recorder.take();
    let project = "/api/v4/projects/group%2Fsub%2Fshop";
    let requests: Vec<(Method, String)> = seen
        .iter()
        .map(|s| (s.method.clone(), s.uri.clone()))
        .collect();
    assert_eq!(
        requests,
        [
            (Method::POST, format!("{project}/statuses/ff00")),
            (
                Method::GET,
                format!(
                    "{project}/merge_requests?state=opened&source_branch=tidegate%2Fpromote%2Fweb"
                )
            ),
            (Method::POST, format!("{project}/merge_requests")),
            (Method::GET, format!("{project}/merge_requests/4")),
            (Method::POST, format!("{project}/merge_requests/4/notes")),
        ]
    );
    for request in &seen {
        assert_eq!(request.header("private-token"), [TOKEN]);
        assert!(request.header("authorization").is_empty());
    }
    assert_eq!(
        seen[0].body,
        json!({"state": "running", "name": "tidegate/shop/web", "description": "step 2/5: weight 40%"})
    );
    assert_eq!(
        seen[2].body,
        json!({"title": "Revert web", "source_branch": "tidegate/promote/web",
            "target_branch": "main", "description": "why", "remove_source_branch": true})
    );
    assert_eq!(seen[4].body, json!({"body": "note"}));
}

#[tokio::test]
async fn gitea_sends_its_token_header_and_api_path() {
    let (recorder, url) = Recorder::start::<String>(vec![]).await;
    let forge = Forge::new(Kind::Gitea, &url, "acme/shop", token()).with_retry(fast());
    forge
        .set_status("abc", &status(StatusState::Success))
        .await
        .expect("status");
    let seen = recorder.take();
    assert_eq!(seen[0].uri, "/api/v1/repos/acme/shop/statuses/abc");
    assert_eq!(seen[0].header("authorization"), [format!("token {TOKEN}")]);
    assert_eq!(seen[0].body["state"], "success");
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retried() {
    let (recorder, url) = Recorder::start(vec![
        (
            429,
            vec![("retry-after", "0".into())],
            json!({"message": "slow down"}),
        ),
        (502, vec![], json!({})),
        (201, vec![], json!({})),
    ])
    .await;
    let forge = Forge::new(Kind::GitHub, &url, "acme/shop", token()).with_retry(fast());
    forge
        .set_status("abc", &status(StatusState::Pending))
        .await
        .expect("third attempt succeeds");
    assert_eq!(recorder.take().len(), 3);
}

#[tokio::test]
async fn a_write_waiting_to_retry_stops_when_the_term_ends() {
    let (recorder, url) = Recorder::start(vec![(
        429,
        vec![("retry-after", "30".into())],
        json!({"message": "slow down"}),
    )])
    .await;
    // The fence is open for the first attempt only.
    let looks = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = looks.clone();
    let guard: crate::leader::WriteGuard =
        Arc::new(move || counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0);
    let forge = Forge::new(Kind::GitHub, &url, "acme/shop", token())
        .with_retry(Retry {
            attempts: 5,
            first_wait: Duration::from_millis(10),
            max_wait: Duration::from_secs(60),
        })
        .with_guard(guard);
    let started = std::time::Instant::now();
    let error = forge
        .set_status("abc", &status(StatusState::Pending))
        .await
        .unwrap_err();
    assert!(matches!(error, ForgeError::NotLeader { .. }), "{error:?}");
    assert_eq!(
        recorder.take().len(),
        1,
        "no second request after the term ended"
    );
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "the Retry-After wait was cut short"
    );
}

#[tokio::test]
async fn github_exhausted_rate_limit_403_is_retried_but_other_4xx_are_not() {
    let reset = (jiff::Timestamp::now().as_second()).to_string();
    let (recorder, url) = Recorder::start(vec![
        (
            403,
            vec![
                ("x-ratelimit-remaining", "0".into()),
                ("x-ratelimit-reset", reset),
            ],
            json!({"message": "API rate limit exceeded"}),
        ),
        (201, vec![], json!({})),
        (422, vec![], json!({"message": "Validation Failed"})),
    ])
    .await;
    let forge = Forge::new(Kind::GitHub, &url, "acme/shop", token()).with_retry(fast());
    forge
        .set_status("abc", &status(StatusState::Pending))
        .await
        .expect("retried after the reset");
    let error = forge
        .set_status("abc", &status(StatusState::Pending))
        .await
        .expect_err("422 is final");
    assert!(!error.is_transient());
    assert!(error.to_string().contains("422"), "{error}");
    assert!(error.to_string().contains("Validation Failed"), "{error}");
    assert_eq!(recorder.take().len(), 3);
}

#[tokio::test]
async fn retries_stop_after_the_last_attempt() {
    let (recorder, url) = Recorder::start(vec![
        (503, vec![], json!({})),
        (503, vec![], json!({})),
        (503, vec![], json!({})),
        (201, vec![], json!({})),
    ])
    .await;
    let forge = Forge::new(Kind::Gitea, &url, "acme/shop", token()).with_retry(fast());
    let error = forge
        .set_status("abc", &status(StatusState::Pending))
        .await
        .expect_err("three 503s exhaust the attempts");
    assert!(error.is_transient());
    assert_eq!(recorder.take().len(), 3);
}

#[test]
fn api_bases_follow_each_forge() {
    let forge = |kind, url| Forge::new(kind, url, "a/b", token()).api_base;
    assert_eq!(
        forge(Kind::GitHub, "https://github.com"),
        "https://api.github.com"
    );
    assert_eq!(
        forge(Kind::GitHub, "https://ghe.example/"),
        "https://ghe.example/api/v3"
    );
    assert_eq!(
        forge(Kind::Gitea, "http://127.0.0.1:3000"),
        "http://127.0.0.1:3000/api/v1"
    );
    assert_eq!(
        forge(Kind::GitLab, "https://gitlab.com"),
        "https://gitlab.com/api/v4"
    );
}

#[test]
fn descriptions_are_cut_to_140_characters() {
    let long = "é".repeat(200);
    assert_eq!(short_description(&long).chars().count(), 140);
    assert_eq!(short_description("short"), "short");
}
