"""`switchboard prompts build` (issue 13): the callers' prompts spoken by Debian's
espeak-ng into Asterisk's 8 kHz WAV, Dutch and English, and an admin's own recording
over one of them never overwritten."""

from __future__ import annotations

import io
import math
import wave
from pathlib import Path

from switchboard.core.prompt_texts import LANGUAGES, catalogue
from switchboard.prompts import RATE, build, espeak, to_asterisk_wav


def tone(rate: int = 22050, seconds: float = 0.5) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        frames = (
            int(8000 * math.sin(2 * math.pi * 440 * i / rate)).to_bytes(2, "little", signed=True)
            for i in range(int(rate * seconds))
        )
        out.writeframes(b"".join(frames))
    return buffer.getvalue()


def loudness(data: bytes) -> tuple[int, float, float]:
    """The WAV's rate, length in seconds and RMS level."""
    with wave.open(io.BytesIO(data)) as source:
        frames = source.readframes(source.getnframes())
        rate = source.getframerate()
    samples = memoryview(frames).cast("h")
    rms = math.sqrt(sum(s * s for s in samples) / max(1, len(samples)))
    return rate, len(samples) / rate, rms


def test_every_language_has_every_prompt() -> None:
    names = {language: set(catalogue(language)) for language in LANGUAGES}
    assert set(LANGUAGES) == {"nl", "en"}
    assert names["nl"] == names["en"]
    assert {"closed", "open-again-on", "you-are-number", "goodbye", "day-6", "n-59"} <= names["nl"]


def test_audio_becomes_asterisks_8_khz_wav_of_the_same_length_and_level() -> None:
    rate, seconds, rms = loudness(to_asterisk_wav(tone()))
    assert rate == RATE and abs(seconds - 0.5) < 0.01
    assert 5000 < rms < 6000  # a 440 Hz sine of amplitude 8000 has an RMS of 5657


def test_a_build_writes_each_prompt_and_keeps_an_admins_own_recording(tmp_path: Path) -> None:
    spoken: list[tuple[str, str]] = []

    def speak(text: str, language: str) -> bytes:
        spoken.append((language, text))
        return tone()

    first = build(tmp_path, ["nl"], speak)
    closed = tmp_path / "nl" / "switchboard" / "closed.wav"
    assert closed in first.written and len(first.written) == len(catalogue("nl"))
    assert ("nl", "Wij zijn op dit moment gesloten.") in spoken
    recorded = to_asterisk_wav(tone(rate=8000, seconds=2.0))  # the admin's own voice
    closed.write_bytes(recorded)
    again = build(tmp_path, ["nl"], speak)
    assert again.kept == [closed] and closed.read_bytes() == recorded
    assert len(again.written) == len(catalogue("nl")) - 1


def test_espeak_ng_speaks_dutch_audibly() -> None:
    rate, seconds, rms = loudness(to_asterisk_wav(espeak("Wij zijn gesloten.", "nl")))
    assert rate == RATE and 0.5 < seconds < 5 and rms > 300
