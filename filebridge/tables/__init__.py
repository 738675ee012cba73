"""Related files and joins: the tables a main file needs (code tables kept in the
ledger with their version, or members of the main file's set) and the joins that
bring their columns between the reader and the mapping.

    spec.py     the profile's tables:, set: and join: models and cross-checks
    store.py    a table read into a SQLite file on disk, looked up per batch
    join.py     one-to-one, long-to-wide and one-to-many joins, column-wise
    codes.py    code table versions: refreshed between files, pinned per file
    sets.py     a main file and its members as one set (wraps any source)
    ledger.py   versions and waiting files in the ledger (for status)
    related.py  what a job uses: all of the above together
"""
