"""Exit 0 if the PostgreSQL server named by the URL accepts a connection, else 1."""

import sys
from urllib.parse import unquote, urlsplit

import psycopg


def main(url: str) -> int:
    parts = urlsplit(url)
    try:
        psycopg.connect(
            host=parts.hostname or None, port=parts.port or 5432,
            user=unquote(parts.username or "") or None,
            password=unquote(parts.password or "") or None,
            dbname="postgres", connect_timeout=5,
        ).close()
    except psycopg.Error as exc:
        print(f"PostgreSQL unreachable: {exc}".strip(), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
