"""Floor 2: the device registry and the usage ledger (DEV-1, DEV-3, DEV-4, DEV-5)."""
