"""The shops of the other profiles sharing an inventory (issue "constant dialogue").

An inventory is shared by name: the ERP's figures, a shop's own stock profile, the
stores' POS files may each be a profile of their own. When a store sells, every
shop selling from that stock must learn it, not only the shops the POS profile
lists. The profiles sharing a stock profile's inventory are found **in the folder
of the profile** (``profiles/*.yaml`` and ``*.yml`` beside it, not below it) with the
same ``stock.inventory`` and the same ledger (the inventory lives in the ledger): a
``filebridge run`` of one profile and ``filebridge watch`` find the same ones. A
profile there that cannot be read is skipped with a warning (``filebridge check``
says why).

Their stock outputs (shop API sinks with ``sync: stock``) are built again here, under
their own ids, so they share what each shop acknowledged with the profile that lists
them (the ``inventory:<name>`` state). Their ``missing:`` policy is not theirs to
apply: a POS file lists a few SKUs, not the catalog (so the breaker, which weighs
removals and shrinking files, never holds them either). An output whose id the
profile or an earlier sharer has already is taken once.

Who gets them (:class:`filebridge.job.Job`):

- a movements (POS) or orders file: they are outputs of the file like the
  profile's own, so the file's changes for them are staged, queued with the file's
  acceptance and sent through the outbox (idempotency keys, retries, held runs),
  and a crash before they are sent leaves them queued for the next pass;
- availability after an order pull or a webhook (:mod:`filebridge.stock.push`);
- not a figures file: every profile that takes figures pushes them to its own
  outputs, with its own ``missing:`` policy and breaker.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filebridge.errors import ProfileError
from filebridge.sinks.base import JobInfo, Sink, sink_id

if TYPE_CHECKING:
    from filebridge.profile import ProfileBase
    from filebridge.stock.inventory import Inventory

log = logging.getLogger("filebridge")

__all__ = ["share_notes", "shared_sinks", "sharing_profiles"]


def _ledger_of(profile: ProfileBase) -> str:
    where = profile.ledger_path()
    if isinstance(where, Path) or not str(where).startswith(("postgresql:", "postgres:")):
        return str((profile.base / where).resolve())
    return str(where)


def _names_inventory(path: Path, inventory: str) -> bool:
    """Whether the profile file's ``stock.inventory`` is ``inventory`` (read as plain
    YAML: profiles of other flows are not loaded, nor warned about when they cannot
    be). A file that is not YAML at all is looked at by the full load, which says why."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        doc = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return False
    except YAMLError:
        return True
    stock = doc.get("stock") if isinstance(doc, dict) else None
    return isinstance(stock, dict) and str(stock.get("inventory", "main")) == inventory


def sharing_profiles(profile: ProfileBase) -> list[ProfileBase]:
    """The other profiles in ``profile``'s folder on its inventory and ledger, by file
    name."""
    from filebridge.profile import load_profile

    stock = getattr(profile, "stock", None)
    if stock is None or profile.file is None:
        return []
    me = profile.file.resolve()
    ledger = _ledger_of(profile)
    out = []
    for path in sorted([*me.parent.glob("*.yaml"), *me.parent.glob("*.yml")]):
        if path.resolve() == me or not _names_inventory(path, stock.inventory):
            continue
        try:
            other = load_profile(path)
        except ProfileError as e:
            log.warning("%s: %s cannot be read, so its shops are not told of this "
                        "profile's stock: %s", profile.name, path.name,
                        str(e).splitlines()[0])
            continue
        s = getattr(other, "stock", None)
        if s is not None and s.inventory == stock.inventory and _ledger_of(other) == ledger:
            out.append(other)
    return out


def shared_sinks(profile: ProfileBase, inventory: Inventory, ledger: Any, reg: Any,
                 taken: set[str]) -> list[Sink]:
    """The stock outputs of the profiles sharing ``profile``'s inventory whose ids are
    not in ``taken`` (the profile's own), bound to the inventory's shop state."""
    out: list[Sink] = []
    taken = set(taken)
    for other in sharing_profiles(profile):
        for options in other.write:
            if getattr(options, "sync", None) != "stock" or not hasattr(options, "url"):
                continue
            sid = sink_id(options)
            if sid in taken:
                continue
            taken.add(sid)
            options = inventory.sink_options(options.model_copy(update={"missing": "ignore"}))
            sink = reg.get("sink", options.format)(options)
            sink.bind(JobInfo(other.name, f"inventory:{inventory.spec.inventory}", ledger,
                              other.map, other.base))
            sink.shared_from = other.name
            out.append(sink)
            log.debug("%s: also tells %s (an output of %s) of its stock", profile.name, sid,
                      other.name)
    return out


def share_notes(profile: ProfileBase) -> list[str]:
    """For ``filebridge check`` of a POS or orders profile: which shops its files go to
    besides its own outputs, or that no shop hears of a POS profile's sales."""
    stock = getattr(profile, "stock", None)
    if stock is None or stock.role not in ("movements", "orders"):
        return []
    own = {sink_id(o) for o in profile.write}
    told = []
    for other in sharing_profiles(profile):
        for o in other.write:
            sid = sink_id(o)
            if getattr(o, "sync", None) == "stock" and hasattr(o, "url") and sid not in own:
                own.add(sid)
                told.append(f"{sid} ({other.file.name if other.file else other.name})")
    if told:
        return [(f"also told of this stock (outputs of profiles sharing inventory "
                 f"{stock.inventory}): {', '.join(told)}")]
    if stock.role == "movements" and not any(hasattr(o, "url") for o in profile.write):
        return [(f"no shop is told of this stock: no shop output here, and no profile in "
                 f"{profile.base} shares inventory {stock.inventory} with one")]
    return []
