"""panoramisk's AMI protocol with whole-stream UTF-8 decoding.

panoramisk decodes every TCP chunk on its own with errors="ignore", so a caller name
like "José" split across two reads loses its "é" without a trace. We decode the stream
incrementally instead and replace (never drop) bytes that are not UTF-8.
"""

from __future__ import annotations

import codecs
import logging
from typing import Any

from panoramisk import utils
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

log = logging.getLogger(__name__)

# A frame larger than this is not AMI; refuse to buffer it without limit.
MAX_FRAME_CHARS = 1_000_000


class DecodingAMIProtocol(AMIProtocol):  # type: ignore[misc]
    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""

    def data_received(self, data: bytes) -> None:
        text = self._decoder.decode(data)
        if getattr(self, "version", None) is None and text.startswith("Asterisk Call Manager/"):
            first_line = text.partition(utils.EOL)[0]
            self.version = first_line.partition("/")[2].strip()
        frames = (self._pending + text).split(utils.EOL + utils.EOL)
        self._pending = frames.pop()
        if len(self._pending) > MAX_FRAME_CHARS:
            log.error("AMI frame over %d characters without an end; discarding it", MAX_FRAME_CHARS)
            self._pending = ""
        for frame in frames:
            frame = frame.strip()
            if not frame:
                continue
            try:
                message = Message.from_line(frame)
            except Exception:
                log.exception("unreadable AMI frame skipped: %r", frame[:200])
                continue
            if message is not None:
                self.handle_message(message)
