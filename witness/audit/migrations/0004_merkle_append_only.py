"""The Merkle log's tables are append-only like the entries (issue 4; GB/T 22239-2019:
records protected from deletion and overwrite): leaves, nodes and checkpoints reject UPDATE
and DELETE on both databases, and TRUNCATE on PostgreSQL. The function
witness_reject_audit_change() comes from 0002."""

from django.db import migrations

TABLES = ("audit_auditleaf", "audit_auditnode", "audit_checkpoint")


def _sqlite(table):
    return [f"""CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}
                BEGIN SELECT RAISE(ABORT, 'audit log is append-only: UPDATE rejected'); END""",
            f"""CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
                BEGIN SELECT RAISE(ABORT, 'audit log is append-only: DELETE rejected'); END"""]


def _postgres(table):
    return [f"""CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table}
                FOR EACH ROW EXECUTE FUNCTION witness_reject_audit_change()""",
            f"""CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
                FOR EACH STATEMENT EXECUTE FUNCTION witness_reject_audit_change()"""]


FORWARD = {"sqlite": [s for t in TABLES for s in _sqlite(t)],
           "postgresql": [s for t in TABLES for s in _postgres(t)]}
REVERSE = {"sqlite": [f"DROP TRIGGER IF EXISTS {t}_{w}" for t in TABLES
                      for w in ("no_update", "no_delete")],
           "postgresql": [f"DROP TRIGGER IF EXISTS {t}_{w} ON {t}" for t in TABLES
                          for w in ("no_update_delete", "no_truncate")]}


def _run(statements):
    def run(apps, schema_editor):
        with schema_editor.connection.cursor() as cursor:
            for sql in statements.get(schema_editor.connection.vendor, []):
                cursor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_merkle_log")]

    operations = [migrations.RunPython(_run(FORWARD), _run(REVERSE))]
