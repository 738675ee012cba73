"""The catalog a shop ends up with: products, their variants, translations,
categories, filters, specs, prices and images, built from mapped records.

``spec``     the profile's words for it (languages, attributes, option order,
             parent rules), validated with the profile
``sizes``    size scales that order option values as a shop should list them
``record``   one mapped row under canonical names, JSON-ready (the unit an API
             sink's outbox and a file sink's memory keep)
``product``  a product assembled from its variants' records
``memory``   what a shop file sink wrote before, per SKU, in the ledger
"""
