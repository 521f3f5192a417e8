"""Ground floor: the blob store — write-once, content-addressed originals (ING-4).

Knows nothing of the domain: a blob is bytes with a size, a storage key and digests named
by algorithm. What a blob *means* (a recording, a photo) is decided above it.
"""
