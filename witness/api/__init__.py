"""The REST API (issue 5 item 7). ``policy_map()``: every API operation -> its policy
action (see witness.api.schema)."""


def policy_map() -> dict[tuple[str, str], str]:
    """``{(path, METHOD): action}`` for every operation under /api/ (witness.api.schema)."""
    from witness.api.schema import policy_map as build

    return build()
