"""Online orders in: one module per shop, pulling order lines since a cursor so
that sales, cancellations and refunds become stock movements (``filebridge.stock``)."""



def load_pullers() -> None:
    """Import the puller modules (each registers itself with ``@puller``)."""
    from filebridge.orders import (  # noqa: F401  # noqa: F401
        doc_shopify,
        doc_woocommerce,
        magento,
        shopify,
        vendure,
        woocommerce,
    )
