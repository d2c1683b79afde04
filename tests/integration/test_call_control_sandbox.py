"""Call control from the board against the real service (`switchboard run`), the sandbox
Asterisk and SIPp phones: every action goes through the board's HTTP API, and what
Asterisk then did is read back from the board's own websocket feed.

Phone 100 (the queue's member) is not running, so callers wait in the queue until a
receptionist answers from the board onto their own phone, extension 200.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import aiohttp
import asyncpg
import pytest

from devtools.sipp import SippProcess, place_call, start_phone
from switchboard.store.users import create_user
from tests.conftest import RunningSwitchboard

pytestmark = pytest.mark.integration
Message = dict[str, Any]


class Receptionist:
    """A board user over HTTP and the websocket, as the browser is."""

    def __init__(self, base_url: str, session: aiohttp.ClientSession, csrf: str) -> None:
        self.base_url = base_url
        self.session = session
        self.csrf = csrf
        self.messages: list[Message] = []
        self._socket: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None

    async def listen(self) -> None:
        self._socket = await self.session.ws_connect(f"{self.base_url}/ws")
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self._socket is not None
        async for frame in self._socket:
            if frame.type == aiohttp.WSMsgType.TEXT:
                self.messages.append(frame.json())

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        if self._socket is not None:
            await self._socket.close()
        await self.session.close()

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        response = await self.session.post(
            f"{self.base_url}{path}", json=body, headers={"X-CSRF-Token": self.csrf}
        )
        return response.status, await response.json()

    async def seen(
        self,
        predicate: Callable[[Message], bool],
        what: str,
        timeout_s: float = 15,
        after: Message | None = None,
    ) -> Message:
        """The first message (since the socket opened, or since ``after``) that
        ``predicate`` accepts."""
        deadline = time.monotonic() + timeout_s
        start = 0 if after is None else self.messages.index(after) + 1
        while time.monotonic() < deadline:
            for message in self.messages[start:]:
                if predicate(message):
                    return message
            await asyncio.sleep(0.05)
        raise AssertionError(f"the board never showed {what}; last: {self.messages[-5:]}")

    async def call_message_from(self, number: str, state: str = "queued") -> Message:
        """The first message showing a call from ``number`` in ``state``."""
        return await self.seen(
            lambda m: (
                m["type"] == "call"
                and m["call"]["caller_number"] == number
                and m["call"]["state"] == state
            ),
            f"a {state} call from {number}",
        )

    async def call_from(self, number: str, state: str = "queued") -> Message:
        call: Message = (await self.call_message_from(number, state))["call"]
        return call

    async def call_in_state(
        self, call_id: str, state: str, what: str, after: Message | None = None
    ) -> Message:
        """The first message (since ``after``) showing call ``call_id`` in ``state``."""
        return await self.seen(
            lambda m: (
                m["type"] == "call"
                and m["call"]["call_id"] == call_id
                and m["call"]["state"] == state
            ),
            what,
            after=after,
        )

    async def outcome(
        self, call_id: str, action: str, result: str = "", after: Message | None = None
    ) -> Message:
        return await self.seen(
            lambda m: (
                m["type"] == "action"
                and m["call_id"] == call_id
                and m["action"] == action
                and (not result or m["result"] == result)
            ),
            f"the {action} outcome on {call_id}",
            timeout_s=40,
            after=after,
        )


@contextlib.asynccontextmanager
async def receptionist(
    switchboard: RunningSwitchboard,
    db: asyncpg.Pool,
    username: str,
    extension: str | None,
    *,
    language: str = "en",
) -> AsyncIterator[Receptionist]:
    password = secrets.token_urlsafe(12)
    name = username.capitalize()
    await create_user(
        db, username, password, role="receptionist", display_name=name, extension=extension
    )
    session = aiohttp.ClientSession(
        cookie_jar=aiohttp.CookieJar(unsafe=True),  # the service is on 127.0.0.1
        headers={"Accept-Language": language},
    )
    base = switchboard.base_url
    login = await session.post(
        f"{base}/login", data={"username": username, "password": password}, allow_redirects=False
    )
    assert login.status == 303, await login.text()
    page = await (await session.get(f"{base}/board")).text()
    marker = 'name="csrf-token" content="'
    start = page.index(marker) + len(marker)
    user = Receptionist(base, session, page[start : page.index('"', start)])
    await user.listen()
    try:
        yield user
    finally:
        await user.close()


@contextlib.contextmanager
def phones(*extensions: str, answer_after_s: float = 1.0) -> Iterator[list[SippProcess]]:
    running = [start_phone(ext, answer_after_s=answer_after_s) for ext in extensions]
    try:
        yield running
    finally:
        for phone in running:
            phone.stop()


@contextlib.contextmanager
def caller(number: str) -> Iterator[SippProcess]:
    call = place_call(number, None, duration_s=90)
    try:
        yield call
    finally:
        call.stop()


def talking_with(call: Message) -> set[str]:
    return {p.split("@")[0] for p in call["talking_with"].split(", ")}


async def answered(anna: Receptionist, number: str) -> str:
    """A call from ``number`` answered from the board onto Anna's phone (200)."""
    call = await anna.call_from(number)
    status, reply = await anna.post("/api/calls/answer", {"call_id": call["call_id"]})
    assert status == 202, reply
    outcome = await anna.outcome(call["call_id"], "answer")
    assert outcome["result"] == "confirmed" and outcome["values"]["extension"] == "200"
    talking = await anna.call_from(number, "talking")
    assert talking_with(talking) == {"200"}
    call_id: str = call["call_id"]
    return call_id


async def test_answer_from_the_board_then_blind_transfer(
    switchboard: RunningSwitchboard, db: asyncpg.Pool
) -> None:
    async with receptionist(switchboard, db, "anna", "200") as anna:
        with phones("200", "201"), caller("0612000101"):
            call_id = await answered(anna, "0612000101")
            # A number the phones cannot dial would hang the caller up: refused first.
            status, reply = await anna.post(
                "/api/calls/transfer", {"call_id": call_id, "target": "299", "mode": "blind"}
            )
            assert (status, reply["error"]) == (
                422,
                "299 cannot be dialled from the phones: check the number.",
            )
            status, reply = await anna.post(
                "/api/calls/transfer", {"call_id": call_id, "target": "201", "mode": "blind"}
            )
            assert status == 202, reply
            outcome = await anna.outcome(call_id, "blind")
            assert (outcome["result"], outcome["values"]) == (
                "confirmed",
                {"name": "Anna", "target": "201"},
            )
            # Asterisk connected the caller to 201; Anna's phone is free again.
            await anna.seen(
                lambda m: (
                    m["type"] == "call"
                    and m["call"]["call_id"] == call_id
                    and talking_with(m["call"]) == {"201"}
                ),
                "the caller talking with 201",
            )


async def sent_blind(anna: Receptionist, call_id: str, target: str) -> Message:
    """Anna sends the call to ``target`` without asking first; the board's outcome."""
    body = {"call_id": call_id, "target": target, "mode": "blind"}
    assert (await anna.post("/api/calls/transfer", body))[0] == 202
    return await anna.outcome(call_id, "blind")


async def test_a_waiting_call_is_sent_straight_to_a_colleague(
    switchboard: RunningSwitchboard, db: asyncpg.Pool
) -> None:
    async with receptionist(switchboard, db, "anna", "200") as anna:
        with phones("201"), caller("0612000108"):
            call = await anna.call_from("0612000108")
            outcome = await sent_blind(anna, call["call_id"], "201")
            assert (outcome["result"], outcome["code"]) == ("confirmed", "blind_done")
            talking = await anna.call_from("0612000108", "talking")
            assert talking_with(talking) == {"201"}


async def test_a_call_ringing_a_colleague_is_picked_up_onto_the_receptionists_phone(
    switchboard: RunningSwitchboard, db: asyncpg.Pool
) -> None:
    async with receptionist(switchboard, db, "anna", "200") as anna:
        with phones("200"), phones("201", answer_after_s=60), caller("0612000109"):
            queued = await anna.call_message_from("0612000109")
            call = queued["call"]
            assert (await sent_blind(anna, call["call_id"], "201"))["result"] == "confirmed"
            # 201 rings and rings; Anna takes the call over onto her own phone.
            await anna.call_in_state(call["call_id"], "ringing", "the call ringing at 201", queued)
            status, reply = await anna.post("/api/calls/answer", {"call_id": call["call_id"]})
            assert status == 202, reply
            outcome = await anna.outcome(call["call_id"], "answer")
            assert (outcome["result"], outcome["values"]["extension"]) == ("confirmed", "200")
            talking = await anna.call_from("0612000109", "talking")
            assert talking_with(talking) == {"200"}


async def test_attended_transfer_completed_and_another_cancelled(
    switchboard: RunningSwitchboard, db: asyncpg.Pool
) -> None:
    async with receptionist(switchboard, db, "anna", "200") as anna:
        with phones("200", "202"):
            with caller("0612000102"):
                call_id = await answered(anna, "0612000102")
                body = {"call_id": call_id, "target": "202", "mode": "attended"}
                assert (await anna.post("/api/calls/transfer", body))[0] == 202
                consulting = await anna.outcome(call_id, "attended", "progress")
                assert consulting["code"] == "consulting"
                # Anna talks to 202 while the caller waits on hold, then puts them through.
                await anna.call_in_state(call_id, "held", "the caller on hold")
                status, reply = await anna.post(
                    "/api/calls/transfer/complete", {"call_id": call_id}
                )
                assert status == 202, reply
                done = await anna.outcome(call_id, "attended", "confirmed")
                assert done["code"] == "attended_done" and done["values"]["target"] == "202"
                await anna.seen(
                    lambda m: (
                        m["type"] == "call"
                        and m["call"]["call_id"] == call_id
                        and talking_with(m["call"]) == {"202"}
                    ),
                    "the caller talking with 202",
                )
            with caller("0612000107"):
                call_id = await answered(anna, "0612000107")
                body = {"call_id": call_id, "target": "202", "mode": "attended"}
                assert (await anna.post("/api/calls/transfer", body))[0] == 202
                await anna.outcome(call_id, "attended", "progress")
                # She changes her mind: back with the caller, nothing transferred.
                status, reply = await anna.post("/api/calls/transfer/cancel", {"call_id": call_id})
                assert status == 202, reply
                cancelled = await anna.outcome(call_id, "attended", "confirmed")
                assert cancelled["code"] == "cancel_done"
                await anna.seen(
                    lambda m: (
                        m["type"] == "call"
                        and m["call"]["call_id"] == call_id
                        and m["call"]["state"] == "talking"
                        and talking_with(m["call"]) == {"200"}
                        and m["call"]["transfers"] == []
                    ),
                    "the caller back with Anna",
                )
                # At once she asks again: Asterisk would drop an Atxfer sent while the
                # cancel is still winding down, so the board waits for it to settle.
                assert (await anna.post("/api/calls/transfer", body))[0] == 202
                again = await anna.outcome(call_id, "attended", after=cancelled)
                assert (again["result"], again["code"]) == ("progress", "consulting")


async def test_park_then_take_back_then_hang_up(
    switchboard: RunningSwitchboard, db: asyncpg.Pool
) -> None:
    async with receptionist(switchboard, db, "anna", "200") as anna:
        with phones("200"), caller("0612000103") as call:
            call_id = await answered(anna, "0612000103")
            assert (await anna.post("/api/calls/park", {"call_id": call_id}))[0] == 202
            parked = await anna.outcome(call_id, "park", "confirmed")
            space = parked["values"]["space"]
            assert 701 <= int(space) <= 720
            await anna.call_from("0612000103", "parked")
            assert (await anna.post("/api/calls/retrieve", {"call_id": call_id}))[0] == 202
            back = await anna.outcome(call_id, "retrieve", "confirmed")
            assert back["values"]["extension"] == "200"
            assert (await anna.post("/api/calls/hangup", {"call_id": call_id}))[0] == 202
            assert (await anna.outcome(call_id, "hangup"))["result"] == "confirmed"
            await anna.seen(
                lambda m: m["type"] == "call_ended" and m["call"]["call_id"] == call_id,
                "the call ended",
            )
            # Asterisk hung up on the caller (SIPp saw the BYE and finished).
            assert call.wait(timeout=10) == 0


async def test_a_second_receptionist_is_refused_naming_the_first(
    switchboard: RunningSwitchboard, db: asyncpg.Pool
) -> None:
    async with (
        receptionist(switchboard, db, "anna", "200") as anna,
        receptionist(switchboard, db, "bram", "203", language="nl") as bram,
    ):
        with phones("200", answer_after_s=3.0), caller("0612000104"):
            call = await anna.call_from("0612000104")
            assert (await anna.post("/api/calls/answer", {"call_id": call["call_id"]}))[0] == 202
            # Bram's board shows who took the call...
            claim = await bram.seen(lambda m: m["type"] == "claim", "Anna's claim")
            assert (claim["call_id"], claim["by"], claim["action"]) == (
                call["call_id"],
                "Anna",
                "answer",
            )
            # ...and his own try is refused, in his language, naming her.
            status, reply = await bram.post("/api/calls/answer", {"call_id": call["call_id"]})
            assert status == 409
            assert reply["error"] == "Anna neemt dit gesprek op."
            status, reply = await bram.post("/api/calls/hangup", {"call_id": call["call_id"]})
            assert (status, reply["code"]) == (409, "claimed_answer")
            assert (await bram.outcome(call["call_id"], "answer"))["result"] == "confirmed"
            # Now the call is Anna's: Bram may not hang it up, park or transfer it.
            status, reply = await bram.post("/api/calls/hangup", {"call_id": call["call_id"]})
            assert (status, reply["code"]) == (403, "not_yours")


async def test_an_action_on_a_call_that_just_ended_fails_plainly(
    switchboard: RunningSwitchboard, db: asyncpg.Pool
) -> None:
    async with receptionist(switchboard, db, "anna", "200") as anna:
        with caller("0612000105") as call:
            queued = await anna.call_from("0612000105")
        assert call.poll() is not None  # the caller hung up (stop sent the BYE)
        await anna.seen(
            lambda m: m["type"] == "call_ended" and m["call"]["call_id"] == queued["call_id"],
            "the call ended",
        )
        status, reply = await anna.post("/api/calls/answer", {"call_id": queued["call_id"]})
        assert (status, reply["error"]) == (404, "This call has ended.")


async def test_a_phone_that_does_not_take_the_call_fails_plainly_and_the_caller_waits_on(
    switchboard: RunningSwitchboard, db: asyncpg.Pool
) -> None:
    async with receptionist(switchboard, db, "bea", "204") as bea:
        busy = start_phone("204", answer_after_s=0, busy=True)
        try:
            with caller("0612000106"):
                call = await bea.call_from("0612000106")
                assert (await bea.post("/api/calls/answer", {"call_id": call["call_id"]}))[0] == 202
                failed = await bea.outcome(call["call_id"], "answer", "failed")
                assert failed["code"] == "not_taken"
                assert failed["values"]["status"] == "BUSY"
                # Back in the queue, not dropped.
                await bea.call_in_state(
                    call["call_id"], "queued", "the caller back in the queue", failed
                )
        finally:
            busy.stop()


async def test_bad_requests_get_clear_errors(
    switchboard: RunningSwitchboard, db: asyncpg.Pool
) -> None:
    async with receptionist(switchboard, db, "anna", "200") as anna:
        for body, status, code in [
            ({}, 400, "bad_request"),
            ({"call_id": 7}, 400, "bad_request"),
            ({"call_id": "sandbox:1.1", "target": "201", "mode": "loud"}, 400, "bad_mode"),
            ({"call_id": "sandbox:1.1", "target": "2 01"}, 400, "bad_target"),
            ({"call_id": "nowhere:1.1", "target": "201"}, 404, "ended"),
        ]:
            got, reply = await anna.post("/api/calls/transfer", body)
            assert (got, reply["code"]) == (status, code), body
            assert reply["error"]
        forged = await anna.session.post(
            f"{anna.base_url}/api/calls/hangup", json={"call_id": "sandbox:1.1"}
        )
        assert forged.status == 403
        me = await (await anna.session.get(f"{anna.base_url}/api/calls/me")).json()
        assert (me["extension"], me["role"]) == ("200", "receptionist")
