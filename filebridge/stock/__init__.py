"""Shared stock: one inventory per name, fed by the ERP's figures, the stores' and
the shops' movements, and told back to the shops and the ERP.

- ``spec.py``: the profile's ``stock:`` section;
- ``inventory.py``: the inventory's rules (positions, availability, oversold);
  its rows live in filebridge/ledger/inventory.py;
- ``files.py``: a stock profile's files into the inventory, one row per SKU out;
- ``feed.py``: a stock profile's file end to end, what the job's outputs get;
- ``jobs.py``: the work besides files (pulling orders, movement files, the
  timetable the watcher runs) — the entry point for a profile's stock jobs;
- ``movements.py``: movement files for the ERP; ``push.py``: availability pushed
  after pulls and webhooks; ``share.py``: the shops of the profiles sharing an
  inventory; ``reconcile.py``: ``filebridge reconcile``;
- ``jobview.py``: what the package needs of the job running it (a Protocol: the
  package never imports filebridge.job).

Nothing is imported here, so importing ``filebridge.stock.spec`` (the profile model
does) does not pull in the rest.
"""
