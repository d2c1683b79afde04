"""Replay throughput: the call model, new and old, against panoramisk's bare parsing.

Every recording in tests/fixtures/ami (real AMI from the sandbox Asterisk) is, per round:

(a) parse: split into frames and parsed by panoramisk's ``Message.from_line``, nothing
    else -- the least any AMI consumer does with these bytes (the baseline);
(b) model (new): its already-read events fed to a fresh ``PBXModel.apply(event, now)``
    of switchboard/core/calls/model.py as it is now, with ``now`` taken as
    ami_bridge/replay.py takes it (``event_time``) and ``reset()`` on its
    ``SwitchboardReconnect`` pseudo events: the pure call model's cost;
(b') model (old): the same, through ``PBXModel`` of that file as it was at ``--old-rev``
    (default ``7f934ca^``, before issue 12's work), read with ``git show`` and loaded
    apart as ``_old_call_model`` (its own imports are today's modules); skipped, with
    a message, if git cannot give it;
(c) read + model: ``read_recording`` then ``replay`` from the bytes, which is what
    ``switchboard replay FILE`` does (call state, presence and call records).

Rounds alternate (a), (b), (b'), (c); it prints events per second for each (the median
round) and the ratio against (a), then whether the new model keeps the project's target
(at least 0.5x the parse rate) and its rate against the old one. One process, one core,
nothing asserted.

    scripts/bench replay_throughput [--rounds 200] [--old-rev 7f934ca^]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Protocol

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from panoramisk import utils
from panoramisk.message import Message

from ami_bridge.replay import RECONNECTED, event_time, read_recording, replay
from switchboard.core.calls.model import PBXModel

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "ami"
MODEL_PATH = "switchboard/core/calls/model.py"
OLD_REV = "7f934ca^"  # the commit before issue 12's work began
OLD_MODULE = "_old_call_model"
#: The project's target: the call model at no less than half the bare parse rate.
TARGET = 0.5


class Model(Protocol):
    def apply(self, event: Mapping[str, str], now: float, /) -> Sequence[object]: ...
    def reset(self) -> object: ...


def parse_only(texts: list[str]) -> int:
    parsed = 0
    for text in texts:
        for frame in text.split(utils.EOL + utils.EOL):
            frame = frame.strip()
            if frame and Message.from_line(frame) is not None:
                parsed += 1
    return parsed


def feed(model: Model, events: list[dict[str, str]]) -> int:
    """``events`` through ``model`` as ami_bridge.replay.replay_state feeds the state;
    returns how many changes the model reported."""
    changes = 0
    now = 0.0
    for event in events:
        now = event_time(event, now)
        if event.get("Event") == RECONNECTED:
            model.reset()
            continue
        changes += len(model.apply(event, now))
    return changes


def load_old_model(rev: str) -> ModuleType | str:
    """The call model module as it was at ``rev``, or why it could not be had."""
    try:
        source = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{rev}:{MODEL_PATH}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except FileNotFoundError:
        return "git is not installed"
    except subprocess.CalledProcessError as exc:
        return f"git show {rev}:{MODEL_PATH} failed: {exc.stderr.strip() or exc.returncode}"
    spec = importlib.util.spec_from_loader(OLD_MODULE, loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[OLD_MODULE] = module  # dataclasses look their module up there
    try:
        exec(compile(source, f"{rev}:{MODEL_PATH}", "exec"), module.__dict__)
    except Exception as exc:
        del sys.modules[OLD_MODULE]
        return f"{rev}:{MODEL_PATH} does not load against today's tree: {exc!r}"
    if not hasattr(module, "PBXModel"):
        return f"{rev}:{MODEL_PATH} has no PBXModel"
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument(
        "--old-rev", default=OLD_REV, help=f"git revision of the old model (default {OLD_REV})"
    )
    args = parser.parse_args()

    paths = sorted(FIXTURES.glob("*.ami"))
    blobs = [p.read_bytes() for p in paths]
    texts = [b.decode("utf-8", errors="replace") for b in blobs]
    recordings = [read_recording(b).events for b in blobs]
    events = sum(len(r) for r in recordings)
    print(f"{len(paths)} recordings, {sum(map(len, blobs)):,} bytes, {events:,} events")

    def model_run(new_model: Callable[[str], Model]) -> Callable[[], int]:
        def run() -> int:
            return sum(feed(new_model("replay"), recorded) for recorded in recordings)

        return run

    def read_and_model() -> None:
        for blob in blobs:
            for _ in replay(read_recording(blob).events):
                pass

    runs: dict[str, tuple[Callable[[], object], list[float]]] = {
        "parse (panoramisk)": (lambda: parse_only(texts), []),
        "model (new)": (model_run(PBXModel), []),
    }
    old = load_old_model(args.old_rev)
    if isinstance(old, str):
        print(f"model (old) skipped: {old}")
    else:
        old_model: Callable[[str], Model] = old.PBXModel
        runs["model (old)"] = (model_run(old_model), [])
        print(f"model (old): {MODEL_PATH} at {args.old_rev}")
    runs["read + model"] = (read_and_model, [])
    for name in ("model (new)", "model (old)"):
        if name in runs:
            print(f"{name}: {runs[name][0]()} changes reported")

    for _ in range(args.rounds):
        for work, times in runs.values():
            started = time.perf_counter()
            work()
            times.append(time.perf_counter() - started)

    rates = {name: events / statistics.median(times) for name, (_, times) in runs.items()}
    baseline = rates["parse (panoramisk)"]
    for name, rate in rates.items():
        print(f"{name:<20} {rate:>12,.0f} events/s   x{rate / baseline:.2f} of parse")

    new = rates["model (new)"] / baseline
    verdict = "meets" if new >= TARGET else "MISSES"
    summary = f"model (new) at x{new:.2f} of parse {verdict} the x{TARGET} target"
    if "model (old)" in rates:
        summary += f"; new/old x{rates['model (new)'] / rates['model (old)']:.2f}"
    else:
        summary += "; no old model to compare"
    print(summary)


if __name__ == "__main__":
    main()
