"""Connects to the kernel's socket by path and says HELLO: a process inside a sandbox the
kernel made must be refused whatever its uid. argv: the socket path."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "agents", "python"))
from agentos import AgentOSClient, AgentOSError  # noqa: E402

try:
    with AgentOSClient(sys.argv[1], name="intruder") as client:
        print("REPORT " + json.dumps({"hello": "answered", "agent": client.info}), flush=True)
except AgentOSError as e:
    print("REPORT " + json.dumps({"hello": "refused", "code": getattr(e, "code", None), "message": str(e)}), flush=True)
