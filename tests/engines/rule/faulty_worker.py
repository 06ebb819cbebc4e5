"""A real rule worker that misbehaves on purpose when a batch mentions `__boom__`.

Run as: python faulty_worker.py MODE MARKER_FILE MEMORY_LIMIT_MB
MODE: crash_once (SIGKILL the first time only), crash (always SIGKILL), hang (sleep),
oom (allocate until the address-space cap raises MemoryError).
"""

import json
import os
import signal
import sys
import time

from engines.rule import worker_main


def main() -> None:
    mode, marker, memory_mb = sys.argv[1], sys.argv[2], int(sys.argv[3])
    worker_main.limit_memory(memory_mb)

    def handler(state, request):
        if request.get("op") == "match" and "__boom__" in json.dumps(request):
            if mode == "crash" or (mode == "crash_once" and not os.path.exists(marker)):
                open(marker, "w").close()
                os.kill(os.getpid(), signal.SIGKILL)
            elif mode == "hang":
                time.sleep(3600)
            elif mode == "oom":
                hog = []
                while True:
                    hog.append(bytearray(32 << 20))
        return worker_main.handle(state, request)

    worker_main.serve(sys.stdin, sys.stdout, handler)


if __name__ == "__main__":
    main()
