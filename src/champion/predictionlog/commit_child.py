"""The log writer's child process: ``python -m champion.predictionlog.commit_child FD``.

It commits what the API sends over the socket FD until the API closes it (see
:mod:`champion.predictionlog.commits`); nothing imports this module.
"""

from __future__ import annotations

import contextlib
import pickle
import signal
import socket
import sys
from collections.abc import Sequence
from typing import Any

from champion.errors import BackendError, RowRejectedError
from champion.predictionlog.commits import HEADER, Op, Outcome, frame, received
from champion.predictionlog.store import EventStore


def _receive(sock: socket.socket) -> Any:
    """The next message, or None once the API has closed its end."""
    header = _read(sock, HEADER.size)
    if header is None:
        return None
    body = _read(sock, HEADER.unpack(header)[0])
    return None if body is None else pickle.loads(body)


def _read(sock: socket.socket, size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _answer(store: EventStore, op: str, payload: Any) -> tuple[str, str]:
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


def main(argv: Sequence[str]) -> int:
    """The child: commit what the API sends until it closes the socket."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with socket.socket(fileno=int(argv[0])) as sock:
        config = _receive(sock)
        if config is None:
            return 0
        url, model_name, statement_timeout = config
        store = EventStore(url, model_name=model_name, statement_timeout=statement_timeout)
        # an OSError: the API is gone, and there is nobody left to answer
        with contextlib.suppress(OSError):
            while (message := _receive(sock)) is not None:
                sock.sendall(frame(_answer(store, *message)))
        store.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
