"""Background job of the web export (django-tasks; run by ``db_worker``): making the
evidence package of an approved request (witness.preservation.packages.build)."""

from __future__ import annotations

from django_tasks import task


@task()
def make_package(package_id: int) -> dict:
    """Make the queued package ``package_id``; a failure is recorded on the package (status
    failed, with the error) and a write error is tried again (packages.MAX_ATTEMPTS)."""
    from witness.preservation import packages

    return packages.build(package_id)


@task()
def clean_packages() -> dict:
    """Daily (``witness scheduler``): remove the packages whose approval has ended — their
    copies of the originals do not outlive the grant (packages.clean)."""
    from witness.preservation import packages

    return packages.clean()


@task()
def make_discs(disc_set_id: int) -> dict:
    """Make the disc images of the queued disc set ``disc_set_id`` (RET-2, A16; asked for
    on the web, witness.preservation.web_discs); a failure is recorded on the set."""
    from witness.preservation import web_discs

    return web_discs.build(disc_set_id)
