# shellcheck shell=bash
# Free loopback ports for components started later, sourced by scripts/testenv, quickstart and
# bench-commit-to-traffic.

# Prints N distinct free loopback ports, drawn at random below the kernel's ephemeral range: a
# port the kernel could hand to any outgoing connection might be taken between choosing it
# here and the component binding it (a CI run lost its kube-apiserver that way).
free_ports() {
  python3 -c '
import random, socket, sys
with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
    ephemeral_low = int(f.read().split()[0])
socks = []
while len(socks) < int(sys.argv[1]):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", random.randrange(10000, max(ephemeral_low, 10001))))
    except OSError:
        s.close()
        continue
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$1"
}

free_port() { free_ports 1; }
