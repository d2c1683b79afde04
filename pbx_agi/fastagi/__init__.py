"""Our FastAGI server (``server``), who may connect (``peers``) and what it counted
(``metrics``): Asterisk connects, sends its environment, runs a route.

Why not ``panoramisk.fast_agi.Application`` (panoramisk 1.4): its handler
spins forever without yielding when a client closes before the blank line
(``read()`` keeps returning ``b""``), which freezes the whole event loop; it
decodes strictly, so one Latin-1 byte in a caller name kills the request; it
wraps sync routes with ``asyncio.coroutine``, gone in Python 3.11; and it
returns an unsolicited ``HANGUP`` line as the reply to the command in flight,
so every later reply belongs to the command before it. We keep panoramisk's
result-line parser (see :func:`pbx_agi.agi_protocol.parse_result_line`).

A route is ``async``: blocking work (a database lookup, say) would stall every
other call, so a plain function is refused when it is added.

Only allowed peers get to talk to it (``allowed_peers``, by default this host alone): a
route reads the contact directory out to whoever calls it, so a connection from any
other address is closed before a byte of it is read.
"""
