"""Tools for the dialplan an admin edits: check, trace and test it."""
