"""Floor 4: ingest (采集) — from a docked device volume to verified, write-once storage,
attributed to the device, its holder and the enforcement activity (ING-1..ING-4, DEV-3,
DEV-4, ACT-5). Built up over issue 3: volume scanning, file-name patterns and media
metadata come first; the `witness ingest` command and the recordings app follow."""
