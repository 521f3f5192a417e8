"""Ground floor: the append-only audit log (GB/T 22239-2019 level 3 security audit, ING-4).

Knows nothing of the domain: entries name their object by an opaque type and id.
"""
