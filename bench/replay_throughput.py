"""Replay throughput: the call model against panoramisk's bare parsing, same recordings.

Every recording in tests/fixtures/ami (real AMI from the sandbox Asterisk) is, per round:

(a) parse: split into frames and parsed by panoramisk's ``Message.from_line``, nothing
    else -- the least any AMI consumer does with these bytes (the baseline);
(b) model: its already-read events replayed through a fresh ``PBXModel``
    (``ami_bridge.replay.replay``: call records out), the pure model's cost;
(c) read + model: ``read_recording`` then ``replay`` from the bytes, which is what
    ``switchboard replay FILE`` does.

Rounds alternate (a), (b), (c); it prints events per second for each (the median
round) and the ratios against (a). One process, one core, nothing asserted.

    .venv/bin/python bench/replay_throughput.py [--rounds 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from panoramisk import utils
from panoramisk.message import Message

from ami_bridge.replay import read_recording, replay

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "ami"


def parse_only(texts: list[str]) -> int:
    parsed = 0
    for text in texts:
        for frame in text.split(utils.EOL + utils.EOL):
            frame = frame.strip()
            if frame and Message.from_line(frame) is not None:
                parsed += 1
    return parsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()

    paths = sorted(FIXTURES.glob("*.ami"))
    blobs = [p.read_bytes() for p in paths]
    texts = [b.decode("utf-8", errors="replace") for b in blobs]
    recordings = [read_recording(b).events for b in blobs]
    events = sum(len(r) for r in recordings)
    print(f"{len(paths)} recordings, {sum(map(len, blobs)):,} bytes, {events:,} events")

    def model_only() -> None:
        for recorded in recordings:
            for _ in replay(recorded):
                pass

    def read_and_model() -> None:
        for blob in blobs:
            for _ in replay(read_recording(blob).events):
                pass

    runs: dict[str, tuple[Callable[[], object], list[float]]] = {
        "parse (panoramisk)": (lambda: parse_only(texts), []),
        "model": (model_only, []),
        "read + model": (read_and_model, []),
    }
    for _ in range(args.rounds):
        for work, times in runs.values():
            started = time.perf_counter()
            work()
            times.append(time.perf_counter() - started)

    baseline = events / statistics.median(runs["parse (panoramisk)"][1])
    for name, (_, times) in runs.items():
        rate = events / statistics.median(times)
        print(f"{name:<20} {rate:>12,.0f} events/s   x{rate / baseline:.2f} of parse")


if __name__ == "__main__":
    main()
