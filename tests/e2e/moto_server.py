"""One moto server for one end-to-end scenario: `moto_server.py PORT`.

Served on one thread, as scripts/lib.sh's moto_up does and for the same reason: moto's
conditional writes are check-then-set without a lock, and real DynamoDB never lets two
conditional UpdateItems of one item both pass. IAM authorization starts off (moto's default);
the rig turns it on through moto's /moto-api/reset-auth once the stack's resources are made.
"""

import os
import sys

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple

port = int(sys.argv[1])
os.environ.setdefault("MOTO_PORT", str(port))
run_simple("127.0.0.1", port, DomainDispatcherApplication(create_backend_app), threaded=False, request_handler=MotoRequestHandler)
