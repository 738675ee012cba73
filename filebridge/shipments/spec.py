"""The ``shipments:`` section of a profile: the file is the ERP's shipments (order,
line or SKU, quantity, carrier, tracking number, date), each one a fulfilment in the
shop the profile's one ``write:`` output names (its API sink options: url and
credentials, as a stock profile's)."""

from __future__ import annotations

from pydantic import Field

from filebridge.options import Model


class ShipmentSpec(Model):
    """Shipments from the ERP become fulfilments in the shop: Shopify fulfillment
    orders, WooCommerce order status and a note, Magento shipments, Vendure
    fulfillments. Rows of one order with the same shipment key that follow one another
    are one shipment. A shipment line sent once is never sent again (the ledger
    remembers it, and the shop's own fulfilled quantities are checked); an unknown
    order, line or SKU, or a quantity beyond what is left to ship, rejects its row."""

    order: str = Field("order", description="mapped field with the shop's order id, as the "
                       "order pulls give it: Shopify's Order GID or its number, WooCommerce's "
                       "order id, Magento's entity id, Vendure's order id or code")
    line: str | None = Field(None, description="mapped field with the shop's order line id "
                             "(unset: the line is found by its SKU)")
    sku: str = Field("sku", description="mapped field with the SKU (used when line is unset "
                     "or empty)")
    quantity: str = Field("quantity", description="mapped field with the units shipped")
    carrier: str | None = Field("carrier", description="mapped field with the carrier's name "
                                "or code (Magento: carrier_code and title)")
    tracking: str | None = Field("tracking", description="mapped field with the tracking "
                                 "number")
    shipment: str | None = Field(None, description="mapped field naming the shipment (the "
                                 "ERP's delivery note); unset: the tracking number names it. "
                                 "A row with neither is rejected: without a name a shipment "
                                 "cannot be told from its resending")
    date: str | None = Field(None, description="mapped field with the shipping date, for the "
                             "shop's note (unset: none)")
    delivered: str | None = Field(None, description="mapped field saying the parcel was "
                                  "delivered (yes/true/1/Y): Vendure's fulfilment goes on to "
                                  "Delivered; the other shops have no such step")
    notify: bool = Field(False, description="ask the shop to tell the customer (Shopify "
                         "notifyCustomer, Magento notify, WooCommerce a customer note)")
