"""Drives rag's MCP server with the official Python client (the `mcp` package from PyPI), as an
agent would, and prints what it saw as one JSON object for tests/mcp.rs to check.

    mcp_client.py stdio RAG_BINARY [--config FILE]
    mcp_client.py http URL [--token TOKEN]

It initializes, lists the tools, then calls each one with the arguments in the JSON list
--calls (default: a fixed tour, where fetch_document follows the answer's first citation), and
prints {"server", "tools": [{name, description,
annotations, schema}], "results": [{tool, arguments, is_error, structured, text}]}.
"""

import argparse
import asyncio
import json
import sys

from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client

TOUR = [
    ["list_collections", {}],
    ["list_documents", {}],
    ["search", {"question": "Where can visitors park?", "top_k": 3}],
    ["ask", {"question": "Where can visitors park?"}],
]


def as_json(value):
    if value is None:
        return None
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", by_alias=True, exclude_none=True)
    return value


async def tour(session, calls, follow):
    init = await session.initialize()
    listed = await session.list_tools()
    tools = [
        {
            "name": t.name,
            "description": t.description,
            "annotations": as_json(t.annotations),
            "schema": t.input_schema if hasattr(t, "input_schema") else t.inputSchema,
        }
        for t in listed.tools
    ]
    results = []
    for name, arguments in calls:
        r = await session.call_tool(name, arguments)
        structured = getattr(r, "structured_content", None)
        if structured is None:
            structured = getattr(r, "structuredContent", None)
        texts = [c.text for c in r.content if getattr(c, "type", "") == "text"]
        is_error = getattr(r, "is_error", None)
        if is_error is None:
            is_error = getattr(r, "isError", False)
        results.append(
            {
                "tool": name,
                "arguments": arguments,
                "is_error": bool(is_error),
                "structured": structured,
                "text": "\n".join(texts),
            }
        )
        # On the fixed tour, a fetch follows the first cited document of an answer.
        if follow and name == "ask" and structured and structured.get("citations"):
            doc = structured["citations"][0]["document_id"]
            f = await session.call_tool("fetch_document", {"id": doc, "start_line": 1, "end_line": 40})
            results.append(
                {
                    "tool": "fetch_document",
                    "arguments": {"id": doc},
                    "is_error": bool(getattr(f, "is_error", getattr(f, "isError", False))),
                    "structured": getattr(f, "structured_content", getattr(f, "structuredContent", None)),
                    "text": "\n".join(c.text for c in f.content if getattr(c, "type", "") == "text"),
                }
            )
    info = init.server_info if hasattr(init, "server_info") else init.serverInfo
    return {"server": as_json(info), "tools": tools, "results": results}


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("transport", choices=["stdio", "http"])
    p.add_argument("target", help="the rag binary (stdio) or the /mcp URL (http)")
    p.add_argument("--config")
    p.add_argument("--token")
    p.add_argument("--calls", help="JSON list of [tool, arguments]")
    a = p.parse_args()
    calls = json.loads(a.calls) if a.calls else TOUR
    if a.transport == "stdio":
        args = (["--config", a.config] if a.config else []) + ["mcp"]
        params = StdioServerParameters(command=a.target, args=args)
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                out = await tour(session, calls, a.calls is None)
    else:
        headers = {"Authorization": f"Bearer {a.token}"} if a.token else None
        async with create_mcp_http_client(headers=headers) as http:
            async with streamable_http_client(a.target, http_client=http) as (read, write):
                async with ClientSession(read, write) as session:
                    out = await tour(session, calls, a.calls is None)
    json.dump(out, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    asyncio.run(main())
