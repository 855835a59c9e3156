"""Small builders for test inputs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tools.models import Product, Variant
from tools.store import Store


def write_pdf(path: Path, pages: Sequence[Sequence[str]], *, title: str = "Document") -> Path:
    """A minimal valid PDF: one Helvetica text stream per page, with a document title."""
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog, pages_id = add(b""), add(b"")  # filled in once the pages exist
    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    kids = []
    for lines in pages:
        escaped = [
            line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") for line in lines
        ]
        data = "\n".join(
            ["BT /F1 12 Tf 14 TL 72 720 Td", *(f"({line}) Tj T*" for line in escaped), "ET"]
        ).encode("latin-1")
        content = add(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(data), data))
        kids.append(
            add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
                b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (pages_id, content, font)
            )
        )
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id
    refs = b" ".join(b"%d 0 R" % k for k in kids)
    objects[pages_id - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (refs, len(kids))
    info = add(b"<< /Title (%s) >>" % title.encode("latin-1"))

    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        catalog,
        info,
        xref,
    )
    path.write_bytes(bytes(out))
    return path


def add_products(store: Store) -> None:
    """Two products (Desk Lamp 1000000001, Wool Blanket 1000000002), two variants each."""
    with store.write() as session:
        for pid, name, description, items in [
            ("1000000001", "Desk Lamp", "A dimmable LED desk lamp with a USB port.", ("11", "12")),
            ("1000000002", "Wool Blanket", "A warm merino wool throw blanket.", ("21", "22")),
        ]:
            grey, blue = (f"20000000{i}" for i in items)
            session.add(
                Product(
                    id=pid,
                    name=name,
                    description=description,
                    variants=[
                        Variant(
                            id=grey,
                            options={"color": "grey"},
                            price_cents=4999,
                            available=True,
                            stock=5,
                        ),
                        Variant(
                            id=blue,
                            options={"color": "blue"},
                            price_cents=5499,
                            available=True,
                            stock=3,
                        ),
                    ],
                )
            )


def free_port() -> int:
    """A loopback port free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def chroma_server(folder: Path, log: Path) -> Iterator[str]:
    """A ``chroma run`` subprocess storing into ``folder`` on a free loopback port; yields its URL
    and stops it on exit. Fails the test when it does not start within a minute."""
    chroma = Path(sys.executable).parent / "chroma"
    port = free_port()
    with log.open("wb") as out:
        server = subprocess.Popen(
            [str(chroma), "run", "--path", str(folder), "--host", "127.0.0.1", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"chroma run did not start: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
