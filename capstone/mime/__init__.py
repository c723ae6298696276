"""One tolerant reading of Internet mail (MIME) for the whole of Capstone.

The index, ``woo view`` and ``woo export`` (and the simulator's header view) all read a message
through :mod:`capstone.mime.walker`, so a part that is a document in one is a document in all, with
the same number. :mod:`capstone.mime.decode` turns bytes and header values into text without ever
raising: unknown charsets, stray 8-bit bytes, RFC 2047 words with bad charsets, group addresses and
very long address lists all give text (and a note when something could not be read exactly).
"""
