"""Developer tools, not part of the product (nor of its wheel): the sandbox Asterisk,
SIPp callers and phones, and the demo. Run from a checkout: ``python -m devtools``."""
