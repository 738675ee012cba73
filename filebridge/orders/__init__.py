"""Online orders in: one module per shop, pulling order lines since a cursor so
that sales, cancellations and refunds become stock movements (``filebridge.stock``);
and whole orders out to the ERP as documents (``stock.documents``): ``document.py``
the model, ``doc_<shop>.py`` the pullers that fill it, ``doc_rows.py`` an orders
file's rows as documents, ``doc_files.py`` the ERP's sequence-numbered files."""



def load_pullers() -> None:
    """Import the puller modules (each registers itself with ``@puller``); the
    ``doc_*`` ones also read whole orders as documents (stock.documents)."""
    from filebridge.registry import REGISTRY

    REGISTRY.load("puller", "documents")
