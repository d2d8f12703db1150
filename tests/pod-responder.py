#!/usr/bin/env python3
"""Makes the testenv's kwok pods answer HTTP.

kwok gives pods addresses in 127.1.0.0/16 (scripts/testenv, `--cidr`), where nothing listens.
This process watches the pods of the cluster and serves HTTP on each Running pod's address and
container ports (8080 when a container declares none), answering as the pod's container says:

- the body is `<pod> <image tag>` and the headers `X-Pod` and `X-Version` say the same;
- `RESPONDER_ERROR_PERCENT` in the container's env makes that share of answers a 500;
- `RESPONDER_LATENCY_MS` delays every answer by that many milliseconds.

Only loopback addresses are served: a pod address outside 127.0.0.0/8 is ignored.

kube-apiserver refuses loopback addresses in IPv4 EndpointSlices, so kube-controller-manager
cannot publish these pods. The responder publishes them instead: for every Service with a
selector it keeps an EndpointSlice `<service>-loopback` (addressType FQDN, which accepts the
address as a name; owned by the Service) listing the ready pods it serves. Gateway data planes
that read EndpointSlices (Traefik) then send traffic to the pods. The process stops on SIGTERM
(scripts/testenv down).

    pod-responder.py --server https://127.0.0.1:6443 --token-file F --ca-file F
"""

import argparse
import json
import random
import signal
import socket
import ssl
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULT_PORT = 8080
POLL_SECONDS = 0.25


class Behaviour:
    """How one pod answers."""

    def __init__(self, pod, container):
        self.pod = pod
        image = container.get("image", "")
        self.version = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else "latest"
        env = {e.get("name"): e.get("value", "") for e in container.get("env", []) or []}
        self.error_percent = float(env.get("RESPONDER_ERROR_PERCENT", "0") or 0)
        self.latency = float(env.get("RESPONDER_LATENCY_MS", "0") or 0) / 1000.0


def handler_for(listener):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):  # noqa: N802 (the http.server convention)
            self.answer()

        def do_POST(self):  # noqa: N802
            length = int(self.headers.get("Content-Length", "0") or 0)
            if length:
                self.rfile.read(length)
            self.answer()

        def answer(self):
            # Read at every request: a kept-alive connection answers as the pod that holds
            # the address now, not as the pod that held it when the connection opened.
            behaviour = listener.behaviour
            if behaviour.latency:
                time.sleep(behaviour.latency)
            failed = random.random() * 100 < behaviour.error_percent
            body = f"{behaviour.pod} {behaviour.version}\n".encode()
            self.send_response(500 if failed else 200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Pod", behaviour.pod)
            self.send_header("X-Version", behaviour.version)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    return Handler


class Server(ThreadingHTTPServer):
    """A threading HTTP server that can also close the connections it has open."""

    daemon_threads = True

    def __init__(self, address, handler):
        self.connections = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request, client_address):
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self):
        with self.connections_lock:
            open_now = list(self.connections)
        for connection in open_now:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class Listener:
    """One HTTP server on one pod address and port, answering as `behaviour` says."""

    def __init__(self, address, behaviour):
        self.behaviour = behaviour
        self.server = Server(address, handler_for(self))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        """Stops listening and closes kept-alive connections: the pod is gone, and a client
        must not keep reaching it through a connection opened while it ran."""
        self.server.shutdown()
        self.server.server_close()
        self.server.close_connections()


def wanted(pods):
    """(address, port) -> Behaviour for every Running pod with a loopback address."""
    found = {}
    for pod in pods:
        status = pod.get("status", {})
        address = status.get("podIP", "")
        if status.get("phase") != "Running" or not address.startswith("127."):
            continue
        if pod.get("metadata", {}).get("deletionTimestamp"):
            continue
        name = pod["metadata"]["name"]
        for container in pod.get("spec", {}).get("containers", []):
            ports = [p["containerPort"] for p in container.get("ports", []) or [] if "containerPort" in p]
            for port in ports or [DEFAULT_PORT]:
                found.setdefault((address, port), Behaviour(name, container))
    return found


def ready(pod):
    conditions = pod.get("status", {}).get("conditions", []) or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def target_port(service_port, pods):
    """The port a Service port sends to: a number, or a container port named in the pods."""
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int):
        return target
    for pod in pods:
        for container in pod.get("spec", {}).get("containers", []):
            for port in container.get("ports", []) or []:
                if port.get("name") == target:
                    return port["containerPort"]
    return DEFAULT_PORT


def slices(services, pods, served):
    """The EndpointSlice each selector Service should have: its ready, served pods."""
    out = {}
    for service in services:
        selector = service.get("spec", {}).get("selector")
        meta = service["metadata"]
        if not selector:
            continue
        chosen = [
            pod
            for pod in pods
            if pod["metadata"].get("namespace") == meta["namespace"]
            and all(pod["metadata"].get("labels", {}).get(k) == v for k, v in selector.items())
            and ready(pod)
            and pod.get("status", {}).get("podIP", "") in served
        ]
        name = f"{meta['name']}-loopback"
        out[(meta["namespace"], name)] = {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": name,
                "namespace": meta["namespace"],
                "labels": {
                    "kubernetes.io/service-name": meta["name"],
                    "endpointslice.kubernetes.io/managed-by": "pod-responder.tidegate.dev",
                },
                "ownerReferences": [
                    {"apiVersion": "v1", "kind": "Service", "name": meta["name"], "uid": meta["uid"]}
                ],
            },
            "addressType": "FQDN",
            "ports": [
                {
                    "name": port.get("name", ""),
                    "port": target_port(port, chosen),
                    "protocol": port.get("protocol", "TCP"),
                }
                for port in service["spec"].get("ports", []) or []
            ],
            "endpoints": [
                {
                    "addresses": [pod["status"]["podIP"]],
                    "conditions": {"ready": True},
                    "targetRef": {
                        "kind": "Pod",
                        "namespace": meta["namespace"],
                        "name": pod["metadata"]["name"],
                        "uid": pod["metadata"]["uid"],
                    },
                }
                for pod in sorted(chosen, key=lambda pod: pod["metadata"]["name"])
            ],
        }
    return out


class Cluster:
    """The few calls the responder makes to kube-apiserver."""

    def __init__(self, server, token, ca_file):
        self.server = server
        self.token = token
        self.context = ssl.create_default_context(cafile=ca_file)

    def call(self, path, method="GET", body=None, content_type=None):
        headers = {"Authorization": f"Bearer {self.token}"}
        if content_type:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(
            f"{self.server}{path}", data=body, headers=headers, method=method
        )
        with urllib.request.urlopen(request, context=self.context, timeout=5) as answer:
            return json.load(answer)

    def items(self, path):
        return self.call(path).get("items", [])

    def apply(self, namespace, name, endpoint_slice):
        path = (
            f"/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices/{name}"
            "?fieldManager=pod-responder&force=true"
        )
        body = json.dumps(endpoint_slice).encode()
        self.call(path, "PATCH", body, "application/apply-patch+yaml")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--server", required=True)
    parser.add_argument("--token-file", required=True)
    parser.add_argument("--ca-file", required=True)
    args = parser.parse_args()
    with open(args.token_file, encoding="utf-8") as file:
        cluster = Cluster(args.server, file.read().strip(), args.ca_file)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    listeners = {}
    published = {}
    while not stopping.is_set():
        try:
            pods = cluster.items("/api/v1/pods")
            services = cluster.items("/api/v1/services")
        except OSError as error:
            print(f"pod-responder: list: {error}", file=sys.stderr, flush=True)
            stopping.wait(1)
            continue
        want = wanted(pods)
        for address in list(listeners):
            if address in want:
                # kwok may give a gone pod's address to a new pod: answer as the new one.
                listeners[address].behaviour = want[address]
            else:
                listeners.pop(address).stop()
        for address, behaviour in want.items():
            if address not in listeners:
                try:
                    listeners[address] = Listener(address, behaviour)
                except OSError as error:
                    print(f"pod-responder: listen on {address}: {error}", file=sys.stderr, flush=True)
        served = {address for address, _ in listeners}
        desired = slices(services, pods, served)
        for key, endpoint_slice in desired.items():
            if published.get(key) == endpoint_slice:
                continue
            try:
                cluster.apply(*key, endpoint_slice)
                published[key] = endpoint_slice
            except OSError as error:
                print(f"pod-responder: publish {key}: {error}", file=sys.stderr, flush=True)
        for key in [key for key in published if key not in desired]:
            del published[key]  # its Service is gone; the garbage collector removes the slice
        stopping.wait(POLL_SECONDS)
    for listener in listeners.values():
        listener.stop()


if __name__ == "__main__":
    main()
