"""Field layouts and value codecs shared by readers (decoding) and writers (encoding)."""
