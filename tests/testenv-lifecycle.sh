#!/usr/bin/env bash
# Lifecycle test of scripts/testenv itself: `up` twice is harmless, two environments coexist
# on different ports (one with the gateway of `up --traffic`), a crashed component is cleaned
# up by the next `up`, and `down` leaves none of the processes it started running. Uses its
# own work dirs; needs cached binaries.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

root=$(mktemp -d)
a=$root/a
b=$root/b
passed=0
failed=0

testenv() { TIDEGATE_TESTENV_DIR=$1 scripts/testenv "${@:2}"; }
check() {
  local what=$1
  shift
  if "$@"; then
    passed=$((passed + 1))
    echo "ok   $what"
  else
    failed=$((failed + 1))
    echo "FAIL $what"
  fi
}
not() { ! "$@"; }
quiet() { "$@" >/dev/null 2>&1; }
pids_of() { awk '{print $1}' "$1"/pids/*.pid; }
# The pids of an environment's components but the pod responder, which listens only on the
# addresses of the pods there are (none in a fresh environment).
listening_pids_of() {
  local file
  for file in "$1"/pids/*.pid; do
    [ "$(basename "$file")" = pod-responder.pid ] || awk '{print $1}' "$file"
  done
}
alive() { [ -e "/proc/$1/stat" ] && [ "$(awk '{print $3}' "/proc/$1/stat")" != Z ]; }
none_alive() {
  local pid
  for pid in "$@"; do
    if alive "$pid"; then
      echo "     pid $pid is still running" >&2
      return 1
    fi
  done
}
# Every process listens, and every TCP socket it listens on is bound to 127.0.0.1.
loopback_only() {
  local pid listeners address
  for pid in "$@"; do
    listeners=0
    while read -r address; do
      listeners=$((listeners + 1))
      case "$address" in
        127.0.0.1:*) ;;
        *) echo "     pid $pid listens on $address" >&2; return 1 ;;
      esac
    done < <(ss -ltnpH | awk -v pid="pid=$pid," 'index($0, pid) {print $4}')
    [ "$listeners" -gt 0 ] || { echo "     pid $pid listens nowhere" >&2; return 1; }
  done
}
port_of() { sed -n "s/^APISERVER_PORT=//p" "$1/ports"; }
cleanup() {
  testenv "$a" down >/dev/null 2>&1 || true
  testenv "$b" down >/dev/null 2>&1 || true
  rm -rf "$root"
}
trap cleanup EXIT

testenv "$a" up >/dev/null
check "up: status reports every component running" quiet testenv "$a" status
first_port=$(port_of "$a")
first_pids=$(pids_of "$a")
# shellcheck disable=SC2086 # one pid per word
check "up: every component listens on 127.0.0.1 only" loopback_only $first_pids

check "up twice: the second reports already up" \
  grep -q "already up" <(testenv "$a" up 2>&1)
check "up twice: same apiserver and processes" \
  test "$(port_of "$a"):$(pids_of "$a")" = "$first_port:$first_pids"

testenv "$b" up --traffic >/dev/null
check "two environments: different apiserver ports" test "$(port_of "$b")" != "$first_port"
check "traffic: status reports the gateway ready" \
  grep -Eq '^gateway +http://127\.0\.0\.1:[0-9]+ ready$' <(testenv "$b" status 2>&1)
# shellcheck disable=SC2046 # one pid per word
check "traffic: every component listens on 127.0.0.1 only" loopback_only $(listening_pids_of "$b")
check "traffic: the first environment has no gateway" \
  not grep -q '^gateway' <(testenv "$a" status 2>&1)
check "two environments: first ready" quiet testenv "$a" status
check "two environments: second ready" quiet testenv "$b" status

# shellcheck disable=SC2046 # one pid per word
kill -KILL $(awk '{print $1}' "$a/pids/kube-apiserver.pid")
check "crash: status notices the dead apiserver" not quiet testenv "$a" status
testenv "$a" up >/dev/null 2>&1
check "crash: the next up restarts a working environment" quiet testenv "$a" status
# shellcheck disable=SC2086 # one pid per word
check "crash: the survivors of the crashed run were stopped" none_alive $first_pids

all_pids=$(pids_of "$a"; pids_of "$b")
testenv "$a" down >/dev/null 2>&1
testenv "$b" down >/dev/null 2>&1
# shellcheck disable=SC2086 # one pid per word
check "down: no process it started is running" none_alive $all_pids
check "down: work dirs removed" test ! -e "$a" -a ! -e "$b"
check "down twice: harmless" quiet testenv "$a" down

echo "testenv-lifecycle: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
