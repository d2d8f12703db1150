# shellcheck shell=bash
# Gitea set-up shared by the scripts that push to the testenv's Gitea (quickstart, benchmarks):
# the API with the testenv's token, a repository on it, Git with the token and a push webhook.
# Source it after `eval "$(scripts/testenv env)"`; it reads TIDEGATE_TEST_GITEA_URL and
# TIDEGATE_TEST_GITEA_TOKEN_FILE and defines:
#
#   gitea_api CURL-ARGS...             the API, authenticated (JSON in and out)
#   gitea_repo NAME DIR AUTHOR         creates tidegate/NAME on Gitea and, for git_in_repo, sets
#                                      gitea_origin (its clone URL), gitea_dir and gitea_author
#   git_in_repo GIT-ARGS...            git in DIR as AUTHOR, authenticated towards gitea_origin
#   gitea_push_hook NAME URL SECRET    a signed push webhook on tidegate/NAME; prints its id

gitea=$TIDEGATE_TEST_GITEA_URL
gitea_token=$TIDEGATE_TEST_GITEA_TOKEN_FILE

gitea_api() {
  curl -fsS -H "Authorization: token $(cat "$gitea_token")" -H 'Content-Type: application/json' "$@"
}

gitea_repo() {
  gitea_api -X POST "$gitea/api/v1/user/repos" -d "{\"name\": \"$1\", \"default_branch\": \"main\"}" >/dev/null
  gitea_origin=$gitea/tidegate/$1.git
  gitea_dir=$2
  gitea_author=$3
}

# The token travels in a header set through the environment: never in a URL or an argument.
git_in_repo() {
  GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0="http.$gitea_origin.extraHeader" \
    GIT_CONFIG_VALUE_0="Authorization: Basic $(printf 'tidegate:%s' "$(cat "$gitea_token")" | base64 -w0)" \
    git -C "$gitea_dir" -c user.name="$gitea_author" -c user.email="$gitea_author@example.com" "$@"
}

gitea_push_hook() {
  gitea_api -X POST "$gitea/api/v1/repos/tidegate/$1/hooks" -d "{\"type\": \"gitea\", \"active\": true,
    \"events\": [\"push\"], \"config\": {\"url\": \"$2\", \"content_type\": \"json\", \"secret\": \"$3\"}}" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])'
}
