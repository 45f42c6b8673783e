"""Docker's HEALTHCHECK: healthy while the portal's /readyz answers 200.

Docker runs this inside the container every 30 s; what it prints is kept with the result
(`docker inspect`), so an unready portal's answer, which names what is not ready, shows there.
The background worker (`python manage.py qcluster`) runs from the same image and serves no HTTP:
in its container the check only says so (it runs as long as the worker does).
"""

import os
import sys
import urllib.error
import urllib.request
from pathlib import Path


def is_worker() -> bool:
    try:
        return b"qcluster" in Path("/proc/1/cmdline").read_bytes()
    except OSError:
        return False


def main() -> int:
    if is_worker():
        print("background worker: no HTTP to check")
        return 0
    url = f"http://127.0.0.1:{os.environ.get('PORT', '').strip() or '8000'}/readyz"
    try:
        with urllib.request.urlopen(url, timeout=4) as response:
            print(response.read().decode(errors="replace"))
            return 0
    except urllib.error.HTTPError as exc:
        print(exc.code, exc.read().decode(errors="replace"))
    except OSError as exc:  # refused, timed out: the server is not up (yet)
        print(exc)
    return 1


if __name__ == "__main__":
    sys.exit(main())
