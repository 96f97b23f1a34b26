"""The worker process: hosts one detector plugin and serves one connection on a Unix socket.

    python -m appliance.inference.worker --listen-fd N --name NAME --config JSON
        [--extra-module M ...] [--heartbeat-s S] [--log-level LEVEL]

The supervisor binds the socket and hands the listening descriptor over. The worker accepts
one connection, says `loading`, loads the plugin, says `ready` (or `failed` with the reason,
then exits), and answers detect requests one at a time, in order, dropping those whose deadline
has passed. The main thread reads the requests itself (no hand-off to another thread: one
wake-up per request, not two); the socket buffer is the queue. A thread sends heartbeats
meanwhile and ends the process if the appliance is gone (the worker was re-parented), even
when the plugin is stuck in `infer`. When the connection closes the worker exits.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Sequence

from pydantic import ValidationError

from appliance.inference.errors import ProtocolError
from appliance.inference.protocol import (
    DetectRequest,
    ErrorMessage,
    FrameFitMessage,
    Heartbeat,
    ResultMessage,
    StatusMessage,
    frame,
    recv_body,
)
from appliance.inference.shm import SegmentMaps
from contracts.vision import Detection
from plugins import registry
from plugins.base import Detector
from plugins.errors import PluginError

log = logging.getLogger("appliance.inference.worker")

EXIT_REFUSED = 3  # config or load failed: restarting will not help


class Channel:
    """The accepted connection; sends from several threads are serialised."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._lock = threading.Lock()

    def send(self, message: StatusMessage | Heartbeat | ResultMessage | ErrorMessage) -> None:
        data = frame(message)
        with self._lock:
            self.sock.sendall(data)


def describe_config_error(err: ValidationError) -> str:
    """`config.<field>: <reason>` for each problem, so the failing key is named."""
    parts = []
    for problem in err.errors():
        where = ".".join(str(part) for part in problem["loc"]) or "(root)"
        parts.append(f"config.{where}: {problem['msg']}")
    return "invalid config: " + "; ".join(parts)


def build_plugin(config: dict[str, object], extra_modules: list[str]) -> Detector:
    """Create and load the plugin; raises PluginError with a reason a technician can act on."""
    try:
        detector = registry.create(dict(config), extra_modules=extra_modules)
    except ValidationError as err:
        raise PluginError(describe_config_error(err)) from err
    try:
        detector.load()
    except PluginError:
        raise
    except Exception as err:  # any load failure refuses the plugin
        raise PluginError(f"load failed: {err!r}") from err
    return detector


def frame_fit(detector: Detector) -> FrameFitMessage | None:
    """The plugin's first resize, which the appliance may then do before sending a frame."""
    try:
        fit = detector.frame_fit()
        if fit is None:
            return None
        return FrameFitMessage(width=fit.width, height=fit.height, resize=fit.resize)
    except (PluginError, ValidationError, ValueError) as err:
        log.warning("plugin frame fit ignored (full frames will be sent): %r", err)
        return None


def release_free_heap() -> None:
    """Hand the heap that loading freed (model conversion, compilation) back to the system;
    glibc keeps it otherwise. Elsewhere a no-op."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return
    trim(0)


def heartbeat(channel: Channel, interval_s: float, stop: threading.Event, parent: int) -> None:
    while not stop.wait(interval_s):
        if os.getppid() != parent:
            # the appliance died; the main thread may be stuck in a plugin's infer
            os._exit(0)
        with contextlib.suppress(OSError):  # connection gone: keep watching the parent
            channel.send(Heartbeat())


def next_request(sock: socket.socket) -> bytes | None:
    """The next request body; None when the appliance closed the connection (or it broke)."""
    try:
        return recv_body(sock)
    except (OSError, ProtocolError) as err:
        log.warning("connection failed: %r", err)
        return None


def answer(
    name: str, detector: Detector, maps: SegmentMaps, body: bytes
) -> ResultMessage | ErrorMessage:
    try:
        request = DetectRequest.model_validate_json(body)
    except ValidationError as err:
        log.warning("bad request: %s", err)
        request_id = _request_id(body)
        return ErrorMessage(id=request_id, error="bad_request", detail=str(err))
    if request.plugin != name:
        detail = f"this worker hosts plugin {name}, not {request.plugin}"
        return ErrorMessage(id=request.id, error="bad_request", detail=detail)
    late_s = time.monotonic() - request.deadline
    if late_s > 0:
        return ErrorMessage(
            id=request.id,
            error="deadline",
            detail=f"dropped: deadline passed {late_s * 1000:.1f} ms before its turn",
        )
    try:
        image = maps.frame(request.shm, request.offset, request.shape)
    except (OSError, ValueError) as err:
        return ErrorMessage(id=request.id, error="bad_request", detail=str(err))
    started = time.perf_counter()
    try:
        detections = detector.infer(image)
        checked = [Detection.model_validate(d) for d in detections]
    except Exception as err:  # noqa: BLE001 - a failing infer answers this request only
        log.warning("infer failed for request %d: %r", request.id, err)
        return ErrorMessage(id=request.id, error="infer_failed", detail=repr(err))
    finally:
        del image
    infer_ms = (time.perf_counter() - started) * 1000
    return ResultMessage(id=request.id, detections=checked, infer_ms=infer_ms)


def _request_id(body: bytes) -> int:
    try:
        value = json.loads(body).get("id")
    except (ValueError, AttributeError):
        return -1
    return value if isinstance(value, int) else -1


def serve(sock: socket.socket, args: argparse.Namespace) -> int:
    channel = Channel(sock)
    stop = threading.Event()
    beat = (channel, args.heartbeat_s, stop, os.getppid())
    threading.Thread(target=heartbeat, args=beat, daemon=True, name="heartbeat").start()
    channel.send(StatusMessage(state="loading", pid=os.getpid()))
    try:
        detector = build_plugin(json.loads(args.config), args.extra_module)
    except PluginError as err:
        log.error("plugin refused: %s", err)
        channel.send(StatusMessage(state="failed", reason=str(err), pid=os.getpid()))
        stop.set()
        return EXIT_REFUSED
    release_free_heap()
    channel.send(StatusMessage(state="ready", pid=os.getpid(), fit=frame_fit(detector)))
    maps = SegmentMaps()
    try:
        while (body := next_request(sock)) is not None:
            channel.send(answer(args.name, detector, maps, body))
    except (BrokenPipeError, ConnectionResetError):
        log.info("connection closed while answering")  # the appliance stopped or replaced us
    except OSError as err:
        log.warning("connection lost: %r", err)
    finally:
        stop.set()
        detector.close()
    return 0


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="appliance.inference.worker")
    parser.add_argument("--listen-fd", type=int, required=True, help="Listening Unix socket.")
    parser.add_argument("--name", required=True, help="The plugin's name in requests.")
    parser.add_argument("--config", required=True, help="The plugin's config as JSON.")
    parser.add_argument("--extra-module", action="append", default=[], help="Plugin module.")
    parser.add_argument("--heartbeat-s", type=float, default=0.5, help="Heartbeat interval.")
    parser.add_argument("--log-level", default="INFO", help="Logging level.")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=args.log_level, format=f"worker {args.name}[{os.getpid()}] %(levelname)s %(message)s"
    )
    listener = socket.socket(fileno=args.listen_fd)
    sock, _ = listener.accept()
    listener.close()  # one connection per worker life; the supervisor keeps the bound socket
    with sock:
        return serve(sock, args)


if __name__ == "__main__":
    sys.exit(main())
