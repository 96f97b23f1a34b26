"""A loopback RTSP camera for tests: GStreamer's RTSP server, H.264 (x264enc).

Run with the system python3 (it needs python3-gi and gir1.2-gst-rtsp-server-1.0, which the venv
cannot import):

    /usr/bin/python3 rtsp_server.py --port 8554 [--width 320 --height 240 --fps 25]

Serves rtsp://127.0.0.1:PORT/cam (scrolling colour bars, a live source) and prints "ready" on
stdout once it listens. Stops on SIGTERM/SIGINT. At 25 fps FFmpeg opens it in about 1 s (it probes
a number of frames, so a lower rate opens slower).
"""

from __future__ import annotations

import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

ENCODE = (
    "x264enc tune=zerolatency speed-preset=ultrafast key-int-max={gop} bitrate=800 "
    "! video/x-h264,profile=baseline ! rtph264pay name=pay0 pt=96 config-interval=1"
)


def pipeline(args: argparse.Namespace) -> str:
    caps = f"video/x-raw,width={args.width},height={args.height},framerate={args.fps}/1"
    source = f"videotestsrc is-live=true pattern=smpte horizontal-speed=4 ! {caps},format=I420"
    return f"( {source} ! {ENCODE.format(gop=max(1, args.fps))} )"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/cam")
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--fps", type=int, default=25)
    args = parser.parse_args()

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(pipeline(args))
    factory.set_shared(True)
    server.get_mount_points().add_factory(args.path, factory)
    if server.attach(None) == 0:
        sys.stderr.write(f"cannot listen on 127.0.0.1:{args.port}\n")
        return 1

    loop = GLib.MainLoop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signum, loop.quit)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
