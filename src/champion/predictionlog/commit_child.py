"""The log writer's child process:
``python -m champion.predictionlog.commit_child FD [LISTEN_FD]``.

It commits what the API sends over the socket FD until that socket is closed (see
:mod:`champion.predictionlog.commits`); with LISTEN_FD it also accepts the connections of
the other API workers on that listening Unix socket, and the requests that arrive
together from any of them share one transaction. The API never imports this module.
"""

from __future__ import annotations

import contextlib
import pickle
import selectors
import signal
import socket
import sys
from collections.abc import Sequence
from typing import Any

from champion.errors import BackendError, RowRejectedError
from champion.predictionlog.commits import HEADER, Op, Outcome, frame, received
from champion.predictionlog.writes import PredictionWrites

Answer = tuple[str, str]


def _frames(buffer: bytearray) -> list[Any]:
    """The complete messages at the front of ``buffer`` (removed from it)."""
    found = []
    while len(buffer) >= HEADER.size:
        (size,) = HEADER.unpack_from(buffer)
        if len(buffer) < HEADER.size + size:
            break
        found.append(pickle.loads(buffer[HEADER.size : HEADER.size + size]))
        del buffer[: HEADER.size + size]
    return found


def _receive_one(sock: socket.socket) -> Any:
    """One message read exactly (nothing after it), or None if the other end closed."""
    header = _read(sock, HEADER.size)
    body = None if header is None else _read(sock, HEADER.unpack(header)[0])
    return None if body is None else pickle.loads(body)


def _read(sock: socket.socket, size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        chunk = sock.recv(left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _run(store: PredictionWrites, op: str, payload: Any) -> Answer:
    try:
        if op == Op.INSERT:
            store.insert_predictions(received(payload))
        elif op == Op.DELETE:
            store.delete_predictions(payload)
        else:
            return Outcome.FAILED.value, f"unknown operation {op!r}"
    except RowRejectedError as exc:
        return Outcome.REJECTED.value, str(exc)
    except BackendError as exc:
        return Outcome.FAILED.value, str(exc)
    except Exception as exc:  # answered, never a silent death of the child
        return Outcome.FAILED.value, f"log writer: {type(exc).__name__}: {exc}"
    return Outcome.DONE.value, ""


def answer_all(store: PredictionWrites, messages: Sequence[tuple[str, Any]]) -> list[Answer]:
    """The answers to ``messages``, in their order. The inserts among them are made as
    one transaction; if the database refuses a value there, each is made on its own, so
    a bad row still fails only its own message."""
    answers: list[Answer | None] = [None] * len(messages)
    inserts = [i for i, (op, _) in enumerate(messages) if op == Op.INSERT]
    if len(inserts) > 1:
        merged = _run(store, Op.INSERT, [row for i in inserts for row in messages[i][1]])
        if merged[0] != Outcome.REJECTED.value:
            for i in inserts:
                answers[i] = merged
    return [a if a is not None else _run(store, *messages[i]) for i, a in enumerate(answers)]


def _serve(store: PredictionWrites, control: socket.socket, listener: socket.socket | None) -> None:
    """Answer every connection until ``control`` closes."""
    chooser = selectors.DefaultSelector()
    buffers: dict[socket.socket, bytearray] = {control: bytearray()}
    chooser.register(control, selectors.EVENT_READ)
    if listener is not None:
        chooser.register(listener, selectors.EVENT_READ)
    while True:
        arrived: list[tuple[socket.socket, Any]] = []
        for key, _ in chooser.select():
            sock: socket.socket = key.fileobj  # type: ignore[assignment]
            if sock is listener:
                conn, _ = listener.accept()
                buffers[conn] = bytearray()
                chooser.register(conn, selectors.EVENT_READ)
                continue
            chunk = b""
            with contextlib.suppress(OSError):
                chunk = sock.recv(1 << 20)
            if not chunk:
                if sock is control:
                    return
                chooser.unregister(sock)
                del buffers[sock]
                sock.close()
                continue
            buffers[sock] += chunk
            arrived += [(sock, m) for m in _frames(buffers[sock])]
        answers = answer_all(store, [m for _, m in arrived])
        for (sock, _), answer in zip(arrived, answers, strict=True):
            with contextlib.suppress(OSError):  # that worker is gone: nobody to answer
                sock.sendall(frame(answer))


def main(argv: Sequence[str]) -> int:
    """The child: commit what the API workers send until the first socket closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    control = socket.socket(fileno=int(argv[0]))
    listener = socket.socket(fileno=int(argv[1])) if len(argv) > 1 else None
    config = _receive_one(control)
    if config is None:
        return 0
    url, model_name, statement_timeout = config
    store = PredictionWrites(url, model_name=model_name, statement_timeout=statement_timeout)
    try:
        _serve(store, control, listener)
    finally:
        store.dispose()
        control.close()
        if listener is not None:
            listener.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
