"""`toolkit serve` on every core: one listening socket shared by several waitress processes.

Python runs one thread at a time per process, so one process keeps a page's 10–30 ms of work on
one core. The app is built once in the parent (the case bank, templates and checks), which then
forks `workers` children; each serves from the same socket with its own threads and its own
database connections. Exactly one child, the first, also runs the embedded task queue. The
parent only watches: a child that dies is started again, and Ctrl+C or SIGTERM stops them all.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from flask import Flask

from toolkit import collector

BACKLOG = 1024


def default_workers() -> int:
    """One process per core this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (OSError when it is taken)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock


def serve(
    app: Flask,
    sock: socket.socket,
    threads: int,
    workers: int,
    start_queue: Callable[[Flask], Any],
) -> None:
    """Serve `app` from `sock` in `workers` processes (in this one when `workers` is 1);
    `start_queue(app)` starts the embedded queue consumer in one of them and returns it (or
    None when the queue is worked elsewhere). Returns once every process has stopped."""
    collector.freeze()  # what the app holds for good leaves the collector's view, before forking
    if workers <= 1:
        _serve_here(app, sock, threads, start_queue)
        return
    children: dict[int, int] = {}  # pid: worker number (0 runs the queue)
    stopping = False

    def stop(_signum, _frame) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            _kill(pid)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)  # Ctrl+C reaches the children too; they stop by themselves
    for number in range(workers):
        children[_start_child(app, sock, threads, start_queue if number == 0 else None)] = number
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        number = children.pop(pid, None)
        if number is None or stopping:
            continue
        print(f"worker {pid} stopped ({_how(status)}); starting another", file=sys.stderr)
        time.sleep(1)  # a child that cannot start does not spin
        if not stopping:
            queue = start_queue if number == 0 else None
            children[_start_child(app, sock, threads, queue)] = number
    sock.close()


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass


def _how(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {os.WTERMSIG(status)}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"


def _start_child(app: Flask, sock: socket.socket, threads: int, start_queue) -> int:
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        _forget_parent_connections(app)
        _serve_here(app, sock, threads, start_queue)
    except BaseException:  # noqa: BLE001  (a child never returns into the parent's code)
        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _forget_parent_connections(app: Flask) -> None:
    """Database connections opened before the fork belong to the parent: a child opens its own
    (SQLAlchemy's advice for forked processes)."""
    app.extensions["toolkit"].engine.dispose(close=False)


def _stop_on_sigterm(_signum, _frame) -> None:
    raise KeyboardInterrupt


def _serve_here(app: Flask, sock: socket.socket, threads: int, start_queue) -> None:
    from waitress import create_server

    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    server = create_server(app, sockets=[sock], threads=threads, ident="toolkit")
    consumer = start_queue(app) if start_queue else None
    sys.stdout.flush()
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        if consumer is not None:
            consumer.stop(graceful=True)
        server.close()
