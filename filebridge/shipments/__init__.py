"""Shipments from the ERP back to the shops: a shipments file (``shipments:`` in the
profile) becomes fulfilments through each shop's API. One module per shop
(a :class:`~filebridge.shipments.base.Shipper`, registered in the one registry under
the format of the shop's API sink); :mod:`filebridge.shipments.sink` checks the rows
and keeps every shipment line to once."""


def load_shippers() -> None:
    """Import the shipper modules (each registers itself with ``@shipper``)."""
    from filebridge.registry import REGISTRY

    REGISTRY.load("shipper")
