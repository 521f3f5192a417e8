"""`witness serve`: the web server (gunicorn), the background worker (db_worker), the audit
log's sequencer and the scheduler of periodic jobs together, as one foreground process that
stops them all on Ctrl-C or SIGTERM."""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from witness.core.commands import WitnessCommand


class Command(WitnessCommand):
    help = _("Start the web server and the background task worker together.")

    def add_command_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help=_("address to listen on"))
        parser.add_argument("--port", type=int, default=8000, help=_("port to listen on"))
        parser.add_argument("--workers", type=int, default=2,
                            help=_("number of web server processes"))
        parser.add_argument("--threads", type=int, default=8,
                            help=_("threads per web server process (a video being streamed "
                                   "holds one thread, not a whole process)"))
        parser.add_argument("--no-worker", action="store_true",
                            help=_("do not start the background task worker"))

    def run(self, host, port, workers, threads, no_worker, **options):
        bin_dir = os.path.dirname(sys.executable)
        env = dict(os.environ, WITNESS_HOME=str(settings.WITNESS_HOME))
        commands = [[os.path.join(bin_dir, "gunicorn"), "witness.wsgi:application",
                     "--bind", f"{host}:{port}", "--workers", str(workers),
                     # threads: a player's open-ended Range request streams for minutes and
                     # must not take a whole process away from everyone else
                     "--worker-class", "gthread", "--threads", str(threads),
                     "--access-logfile", "-", "--graceful-timeout", "10",
                     # a web upload stores and verifies its files inside the request
                     "--timeout", "900"]]
        if not no_worker:
            commands.append([sys.executable, "-m", "witness", "db_worker"])
            # the audit log's sequencer and periodic checkpoints (issue 4)
            commands.append([sys.executable, "-m", "witness", "audit", "sequence", "--follow"])
            # periodic jobs: fixity audits in rolling batches (issue 4)
            commands.append([sys.executable, "-m", "witness", "scheduler", "--follow"])
        children = [subprocess.Popen(cmd, env=env) for cmd in commands]
        url = f"http://{host}:{port}/"
        self.stdout.write(str(_("Witness is running at %(url)s (Ctrl-C stops it).")
                              % {"url": url}))

        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        status = 0
        while not stopping:
            for child in children:
                code = child.poll()
                if code is not None:
                    self.stderr.write(str(_("A server process exited (%(cmd)s, code %(code)s);"
                                            " stopping.") % {"cmd": child.args[0],
                                                             "code": code}))
                    status = code or 1
                    stopping = True
            time.sleep(0.5)
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
        if status:
            sys.exit(status)

    def render(self, data):
        return None
