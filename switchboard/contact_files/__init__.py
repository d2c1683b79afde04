"""Contacts from the files receptionists really have: CSV exports and vCards.

This is the pure parsing core: bytes in, an :class:`ImportResult` out. No database, no
files, no clock. Storing the result is :mod:`switchboard.store.contacts`'s job.

What it promises:

- A file it cannot read at all (too large, a spreadsheet instead of CSV, no vCards, a
  column the mapping names but the file lacks) raises :class:`ContactImportError`, and
  nothing else: arbitrary bytes never raise any other exception.
- Everything else is read row by row. A bad value is reported as a :class:`RowProblem`
  with the physical line in the file where its row (or vCard property) starts, counting
  multi-line quoted cells and folded vCard lines. Nothing good is lost: a row with one bad
  and one good number imports the good one and reports the bad one.
- Numbers are normalised to E.164 with :func:`switchboard.core.numbers.normalise`; withheld,
  internal and invalid numbers are refused.
- Encoding: a BOM (UTF-8 or UTF-16) wins; otherwise UTF-8, otherwise Windows-1252 (which
  never fails). The CSV delimiter is sniffed from the header line (``,`` ``;`` tab ``|``),
  or taken from Excel's ``sep=;`` first line.
"""
