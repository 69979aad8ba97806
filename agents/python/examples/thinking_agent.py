"""thinking_agent: asks the kernel's shared LLM a question and prints the answer.

THINK never raises: when the kernel has no model yet (ENOSYS) the agent says so and exits 0;
any other failure exits 1. `python3 thinking_agent.py "your question"`.
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from agentos import AgentOSClient, AgentOSError  # noqa: E402

DEFAULT_PROMPT = "In one sentence: why do operating systems isolate processes from each other?"

#: Said once when the kernel answered with its offline model (src/llm/Provider.ts offlineHint).
OFFLINE_HINT = (
    "that was the offline model: deterministic words, not thoughts. For a real model, start the kernel with "
    "GEMINI_API_KEY (Gemini), GOOGLE_GENAI_USE_VERTEXAI=true and application-default credentials (Vertex AI), "
    "or OPENAI_BASE_URL=http://127.0.0.1:8080/v1 (llama.cpp, Ollama, vLLM)"
)


def main(argv: list) -> int:
    prompt = " ".join(argv[1:]) or DEFAULT_PROMPT
    try:
        with AgentOSClient(name="thinker") as kernel:
            print("thinking: asking %r" % prompt)
            answer = kernel.think(prompt, max_tokens=256)
    except AgentOSError as e:
        print("thinking: %s" % e, file=sys.stderr)
        return 1
    error = answer["error"]
    if error is not None:
        if error.startswith("ENOSYS"):
            print("thinking: THINK is not available on this kernel yet (%s); nothing to think with" % error)
            return 0
        print("thinking: THINK failed: %s" % error, file=sys.stderr)
        return 1
    print("thinking: answer (%d tokens, model %s):" % (answer["tokens"], answer.get("model")))
    print(answer["content"])
    if answer.get("model") == "offline":
        print("thinking: %s" % OFFLINE_HINT)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
