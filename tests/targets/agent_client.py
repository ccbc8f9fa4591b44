"""What the agent's tests and its bench ask of it over HTTP: a free loopback port, a GET."""
import socket
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port, path, timeout=60):
    """(status, Content-Type, body) of GET http://127.0.0.1:PORT/PATH; raises HTTPError"""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
        return r.status, r.headers.get("Content-Type"), r.read()
