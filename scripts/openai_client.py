"""Drives rag's OpenAI surface with the official `openai` Python package, as an existing
client would, and prints what it saw as one JSON object for tests/openai.rs to check.

    openai_client.py BASE_URL [--token TOKEN]
"""

import argparse
import json
import sys

from openai import OpenAI


def main():
    p = argparse.ArgumentParser()
    p.add_argument("base_url", help="http://HOST:PORT/v1")
    p.add_argument("--token", default="no-token")
    a = p.parse_args()
    client = OpenAI(base_url=a.base_url, api_key=a.token, max_retries=0, timeout=120)
    out = {"models": [m.id for m in client.models.list()]}
    question = [{"role": "user", "content": "Where can visitors park?"}]
    c = client.chat.completions.create(model="rag", messages=question)
    out["chat"] = {
        "id": c.id,
        "model": c.model,
        "content": c.choices[0].message.content,
        "finish_reason": c.choices[0].finish_reason,
        "usage": c.usage.model_dump() if c.usage else None,
    }
    parts, usage, finish = [], None, None
    for chunk in client.chat.completions.create(model="rag", messages=question, stream=True):
        if chunk.choices:
            delta = chunk.choices[0].delta
            if delta and delta.content:
                parts.append(delta.content)
            if chunk.choices[0].finish_reason:
                finish = chunk.choices[0].finish_reason
        if getattr(chunk, "usage", None):
            usage = chunk.usage.model_dump()
    out["stream"] = {"content": "".join(parts), "finish_reason": finish, "usage": usage}
    e = client.embeddings.create(model="any", input=["Where can visitors park?", "Parkhaus B"])
    out["embeddings"] = {
        "model": e.model,
        "count": len(e.data),
        "dims": [len(d.embedding) for d in e.data],
        "norm": sum(x * x for x in e.data[0].embedding),
        "usage": e.usage.model_dump(),
    }
    q = client.embeddings.create(
        model="any", input="Where can visitors park?", encoding_format="float", extra_body={"input_type": "query"}
    )
    out["query_embedding_dims"] = len(q.data[0].embedding)
    # The same text as a query and as a passage gets other prefixes, so other vectors.
    out["query_differs_from_passage"] = q.data[0].embedding != e.data[0].embedding
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
