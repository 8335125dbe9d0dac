"""Loaded by Python at start-up when this folder is on PYTHONPATH: any attempt to open an internet
connection is written to $NETGUARD_LOG and refused, so a test can prove a process never used the network."""

import os
import socket

_LOG = os.environ.get("NETGUARD_LOG")
_connect, _connect_ex = socket.socket.connect, socket.socket.connect_ex


def _guard(sock, address):
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        if _LOG:
            with open(_LOG, "a") as fh:
                fh.write(f"connect {address!r}\n")
        raise OSError("network access refused by netguard")


def connect(self, address):
    _guard(self, address)
    return _connect(self, address)


def connect_ex(self, address):
    _guard(self, address)
    return _connect_ex(self, address)


socket.socket.connect = connect
socket.socket.connect_ex = connect_ex
