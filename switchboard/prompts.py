"""`switchboard prompts build`: the catalogue (switchboard.core.prompt_texts) spoken by
Debian's espeak-ng into 8 kHz 16-bit mono WAV files, Asterisk's ``.wav`` format, under
``<sounds>/<language>/switchboard/<name>.wav``.

An admin may put a recorded file over any of them: a manifest beside them
(``.switchboard-prompts.json``, each file's SHA-256 as we wrote it) tells ours from
theirs, and a build never overwrites a file that is not ours any more.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import wave
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from switchboard.core.prompt_texts import catalogue

MANIFEST = ".switchboard-prompts.json"
RATE = 8000
#: Speaks ``text`` in ``language``; returns a WAV file's bytes (any rate, 16-bit mono).
Speaker = Callable[[str, str], bytes]


class PromptError(RuntimeError):
    """The prompts cannot be built (espeak-ng missing or failing, a directory not
    writable); the message says which and how to fix it."""


def espeak(text: str, language: str) -> bytes:
    """``text`` spoken by espeak-ng (Debian package espeak-ng), as WAV bytes."""
    try:
        done = subprocess.run(
            ["espeak-ng", "-v", language, "-s", "150", "--stdout", text],
            capture_output=True,
            timeout=30,
            check=False,
        )
    except FileNotFoundError:
        raise PromptError("espeak-ng is not installed (apt-get install espeak-ng)") from None
    if done.returncode != 0 or not done.stdout:
        raise PromptError(f"espeak-ng failed for {text!r}: {done.stderr.decode(errors='replace')}")
    return done.stdout


def to_asterisk_wav(data: bytes) -> bytes:
    """Any 16-bit mono WAV as Asterisk's ``.wav``: 8 kHz, 16-bit, mono (linear
    interpolation is enough for speech going onto an 8 kHz phone line)."""
    with wave.open(io.BytesIO(data)) as source:
        if source.getsampwidth() != 2 or source.getnchannels() != 1:
            raise PromptError("expected 16-bit mono audio")
        rate = source.getframerate()
        frames = source.readframes(source.getnframes())
    samples = memoryview(frames).cast("h")
    count = max(1, len(samples) * RATE // rate)
    out = bytearray()
    for i in range(count):
        position = i * rate / RATE
        left = int(position)
        right = min(left + 1, len(samples) - 1)
        fraction = position - left
        value = samples[left] * (1 - fraction) + samples[right] * fraction
        out += int(value).to_bytes(2, "little", signed=True)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as target:
        target.setnchannels(1)
        target.setsampwidth(2)
        target.setframerate(RATE)
        target.writeframes(bytes(out))
    return buffer.getvalue()


@dataclass
class BuildReport:
    written: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)  # the admin's own recordings


def build(
    sounds: Path,
    languages: Sequence[str],
    speak: Speaker = espeak,
    *,
    language_dirs: Mapping[str, Path] | None = None,
) -> BuildReport:
    """Every prompt of every language under ``sounds`` (a language's own directory may
    be given in ``language_dirs``: Debian's ``en`` is a link to the voice installed);
    files an admin replaced stay."""
    report = BuildReport()
    for language in languages:
        directory = (language_dirs or {}).get(language, sounds / language) / "switchboard"
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise PromptError(f"{directory}: cannot be created ({exc.strerror})") from None
        manifest_path = directory / MANIFEST
        manifest: dict[str, str] = (
            json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
        )
        for name, text in sorted(catalogue(language).items()):
            path = directory / f"{name}.wav"
            if path.exists() and _sha256(path.read_bytes()) != manifest.get(name):
                report.kept.append(path)  # not the file we wrote: the admin's
                continue
            audio = to_asterisk_wav(speak(text, language))
            path.write_bytes(audio)
            manifest[name] = _sha256(audio)
            report.written.append(path)
        manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return report


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
