"""Photos from a folder: matched to records by their file names, checked with
Pillow, published to a public folder under a name that is their digest, and their
URLs written into the records' image field, so every output gets them."""
