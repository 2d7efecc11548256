#!/usr/bin/env python3
"""A jetq remote task handler in Python, using only the standard library.

It speaks the NATS client protocol directly (nats-py works the same way with less code):
it subscribes to jetq.handler.<task type> in a queue group, reads each task (JSON), and replies:
  - the result as the body                      -> task complete, body becomes the result
  - header Jetq-Error: <message>                -> this try failed, jetq retries
  - header Jetq-Terminate: <reason>             -> task terminated, no more tries

Usage: handler.py nats://127.0.0.1:4222 <task type>
This example handles {"a": 1, "b": 2} payloads by adding them; a payload without numbers
terminates the task, and {"fail": true} fails the try.
"""
import asyncio
import json
import sys
from urllib.parse import urlparse


def reply_for(task):
    payload = task.get("payload")
    if isinstance(payload, dict) and payload.get("fail"):
        return {"Jetq-Error": "asked to fail"}, b""
    if not isinstance(payload, dict) or not all(isinstance(payload.get(k), (int, float)) for k in ("a", "b")):
        return {"Jetq-Terminate": "payload needs numbers a and b"}, b""
    return {}, json.dumps({"sum": payload["a"] + payload["b"], "handled_by": "python"}).encode()


def hpub(subject, headers, body):
    head = "NATS/1.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    h = head.encode()
    return f"HPUB {subject} {len(h)} {len(h) + len(body)}\r\n".encode() + h + body + b"\r\n"


async def main(url, task_type):
    u = urlparse(url)
    reader, writer = await asyncio.open_connection(u.hostname or "127.0.0.1", u.port or 4222)
    await reader.readline()  # INFO
    writer.write(b'CONNECT {"verbose":false,"pedantic":false,"headers":true,"no_responders":true,"name":"py-handler"}\r\n')
    writer.write(f"SUB jetq.handler.{task_type} py-handlers 1\r\n".encode())
    writer.write(b"PING\r\n")
    await writer.drain()
    print("ready", flush=True)
    while True:
        line = (await reader.readline()).decode().rstrip("\r\n")
        if not line:
            return
        if line == "PING":
            writer.write(b"PONG\r\n")
            await writer.drain()
            continue
        parts = line.split(" ")
        if parts[0] == "MSG":  # MSG <subject> <sid> [reply] <size>
            size = int(parts[-1])
            reply = parts[3] if len(parts) == 5 else None
            body = (await reader.readexactly(size + 2))[:-2]
        elif parts[0] == "HMSG":  # HMSG <subject> <sid> [reply] <hdr size> <total size>
            total = int(parts[-1])
            hsize = int(parts[-2])
            reply = parts[3] if len(parts) == 6 else None
            raw = (await reader.readexactly(total + 2))[:-2]
            body = raw[hsize:]
        else:
            continue  # PONG, +OK, INFO updates
        if reply is None:
            continue
        try:
            headers, out = reply_for(json.loads(body))
        except ValueError:
            headers, out = {"Jetq-Terminate": "task is not JSON"}, b""
        writer.write(hpub(reply, headers, out) if headers else f"PUB {reply} {len(out)}\r\n".encode() + out + b"\r\n")
        await writer.drain()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
