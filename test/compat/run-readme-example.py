# Runs a README example unchanged, with nats.connect pointed at the test's server instead of the
# example's nats://localhost:4222 (tests never take the fixed port). Usage: python run-readme-example.py FILE
import os
import runpy
import sys

import nats

_connect = nats.connect


async def _connect_to_test_server(*_args, **kwargs):
    return await _connect(os.environ["JETQ_TEST_NATS_URL"], **kwargs)


nats.connect = _connect_to_test_server
runpy.run_path(sys.argv[1], run_name="__main__")
