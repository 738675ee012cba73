"""Online orders in: one module per shop, pulling order lines since a cursor so
that sales, cancellations and refunds become stock movements (``filebridge.stock``)."""



def load_pullers() -> None:
    """Import the puller modules (each registers itself with ``@puller``)."""
    # doc_*: the pullers that also read whole orders as documents (stock.documents).
    from filebridge.orders import (  # noqa: F401
        doc_magento,
        doc_shopify,
        doc_vendure,
        doc_woocommerce,
        magento,
        shopify,
        vendure,
        woocommerce,
    )
