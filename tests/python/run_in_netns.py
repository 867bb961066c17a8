"""Runs the service (`mquery-lambda`, memory-only cache) and a command against it inside the
current network namespace, which lambda/tests/schemathesis.rs makes empty with `unshare -n`:
only loopback, brought up here, so no request the command provokes can leave the machine.

Usage: run_in_netns.py SERVER PORT -- COMMAND...; exits with COMMAND's status.
"""

import os
import socket
import subprocess
import sys
import time


def main():
    server, port, separator, *command = sys.argv[1:]
    assert separator == "--" and command, __doc__
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    # no route but loopback: anything else is unreachable
    routes = subprocess.run(["ip", "route"], check=True, capture_output=True, text=True)
    assert "default" not in routes.stdout, f"not an empty network namespace: {routes.stdout}"
    env = {"PATH": os.environ.get("PATH", ""), "MQUERY_LISTEN": f"127.0.0.1:{port}", "RUST_LOG": "warn"}
    service = subprocess.Popen([server], env=env, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", int(port)), timeout=1).close()
                break
            except OSError:
                if service.poll() is not None or time.monotonic() > deadline:
                    sys.exit(f"the service did not start listening (status {service.poll()})")
                time.sleep(0.05)
        status = subprocess.run(command).returncode
    finally:
        service.terminate()
        service.wait(timeout=10)
    sys.exit(status)


if __name__ == "__main__":
    main()
