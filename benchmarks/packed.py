"""Packed-content benchmark: what decoding and opening archives costs.

Usage: python benchmarks/packed.py [--runs 5] [--ref main] [--skip-plain]
1. Plain text: `leakscan scan` of the files benchmark tree (benchmarks/files.py makes it) by this
   checkout and by a snapshot of git ref --ref (``git archive``), interleaved in the same run,
   and by this checkout with --max-decode-depth 0.
2. A generated tree of archives and encoded files (zip, jar, tar.gz, .gz, base64 Kubernetes
   Secrets, nested zips) with planted tokens: leakscan's throughput in MB/s of decompressed
   content, against decompression alone (zipfile / tarfile / gzip reading every member).
3. Peak memory of `leakscan scan` on a 1 GB zip bomb.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import io
import json
import random
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import WORK, interleave, leakscan_cmd, print_table, run_measured  # noqa: E402

from leakscan.synthetic import TokenGenerator  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
FLOOR = r"""
import gzip, io, sys, tarfile, zipfile
from pathlib import Path
total = 0
def member_bytes(data):
    global total
    if data[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            for info in z.infolist():
                member_bytes(z.read(info))
    elif data[:2] == b"\x1f\x8b":
        member_bytes(gzip.decompress(data))
    elif len(data) > 512 and data[257:262] == b"ustar":
        with tarfile.open(fileobj=io.BytesIO(data)) as t:
            for m in t:
                if m.isreg():
                    member_bytes(t.extractfile(m).read())
    else:
        total += len(data)
for path in sorted(Path(sys.argv[1]).rglob("*")):
    if path.is_file():
        member_bytes(path.read_bytes())
print(total)
"""


def _text(rng: random.Random, lines: int) -> str:
    words = "config value token server build deploy user name path key data index".split()
    return "".join(f"{rng.choice(words)}_{rng.randint(0, 999)} = {rng.choice(words)}\n" for _ in range(lines))


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _tgz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def generate_packed(root: Path, count: int, seed: int = 11) -> list[str]:
    """Write the tree of packed files once; return the planted tokens."""
    marker = root / ".spec.json"
    tokens_file = root.parent / "packed-planted.json"
    spec = {"count": count, "seed": seed}
    if marker.exists() and json.loads(marker.read_text()) == spec:
        return list(json.loads(tokens_file.read_text()))
    rng = random.Random(seed)
    generator = TokenGenerator(seed)
    planted: list[str] = []
    for n in range(count):
        folder = root / f"d{n % 20:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        token = generator.sqco() if n % 10 == 0 else ""
        if token:
            planted.append(token)
        secret_line = f"SONAR_TOKEN={token}\n" if token else ""
        body = (_text(rng, 2000) + secret_line + _text(rng, 2000)).encode()
        kind = n % 5
        if kind == 0:
            (folder / f"bundle{n}.zip").write_bytes(
                _zip({"conf/app.properties": body, "README": _text(rng, 500).encode()})
            )
        elif kind == 1:
            (folder / f"lib{n}.jar").write_bytes(_zip({"inner.zip": _zip({"a.env": body})}))
        elif kind == 2:
            (folder / f"release{n}.tar.gz").write_bytes(_tgz({"etc/app.env": body}))
        elif kind == 3:
            (folder / f"backup{n}.env.gz").write_bytes(gzip.compress(body))
        else:
            value = base64.b64encode(body).decode()
            (folder / f"secret{n}.yaml").write_text(f"apiVersion: v1\nkind: Secret\ndata:\n  env: {value}\n")
    marker.write_text(json.dumps(spec))
    tokens_file.write_text(json.dumps(sorted(planted)))
    return sorted(planted)


def snapshot(ref: str) -> Path:
    """The package at ``ref`` unpacked under .work (``git archive``), for PYTHONPATH."""
    target = WORK / f"ref-{ref.replace('/', '_')}"
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", ref], capture_output=True, text=True, check=True
    )
    stamp = target / ".commit"
    if not (stamp.exists() and stamp.read_text() == commit.stdout):
        target.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", ref, "leakscan", "rules"], capture_output=True, check=True
        )
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(target, filter="data")
        stamp.write_text(commit.stdout)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--ref", default="main")
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--skip-plain", action="store_true")
    args = parser.parse_args()
    scan = [*leakscan_cmd(), "scan", "--no-ignore", "--format", "json", "--show-secrets"]

    if not args.skip_plain:
        plain = WORK / "files-tree"
        if not (plain / ".spec.json").exists():
            sys.exit("run benchmarks/files.py once first: it generates the plain-text tree")
        ref_src = snapshot(args.ref)
        ref_cmd = [
            "env",
            f"PYTHONPATH={ref_src}",
            sys.executable,
            "-m",
            "leakscan",
            *scan[len(leakscan_cmd()) :],
        ]
        print(f"1. plain text: {plain}")
        results = interleave(
            {
                f"{args.ref} scan": [*ref_cmd, str(plain)],
                "this branch scan": [*scan, str(plain)],
                "this branch, depth 0": [*scan, "--max-decode-depth", "0", str(plain)],
            },
            args.runs,
        )
        print_table(results, f"{args.ref} scan")

    packed = WORK / "packed-tree"
    packed.mkdir(parents=True, exist_ok=True)
    planted = generate_packed(packed, args.count)
    _, _, out, code = run_measured([*scan, str(packed)])
    report = json.loads(out)
    found = sorted({f["secret"] for f in report["findings"]})
    print(
        f"\n2. packed tree: {packed} ({args.count} files); "
        f"found {len(found)} of {len(planted)} planted (exit {code})"
    )
    if found != planted:
        sys.exit("MISMATCH: leakscan did not find exactly the planted tokens")
    _, _, out, _ = run_measured([sys.executable, "-c", FLOOR, str(packed)])
    content_mb = int(out) / 1e6
    results = interleave(
        {
            "decompress only": [sys.executable, "-c", FLOOR, str(packed)],
            "leakscan scan": [*scan, str(packed)],
        },
        args.runs,
    )
    print_table(results, "decompress only")
    for name, timing in results.items():
        print(f"{name}: {content_mb / timing.median:.1f} MB/s of {content_mb:.1f} MB decompressed content")

    bomb = WORK / "bomb" / "bomb.zip"
    if not bomb.exists():
        bomb.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
            with archive.open("zeros.bin", "w", force_zip64=True) as member:
                chunk = bytes(1 << 20)
                for _ in range(1024):
                    member.write(chunk)
    wall, rss, out, code = run_measured([*scan, str(bomb)])
    skipped = json.loads(out)["stats"]["skipped"]
    print(
        f"\n3. zip bomb: {bomb.stat().st_size / 1e6:.1f} MB holding 1 GiB: {wall:.2f} s, "
        f"peak RSS {rss:.0f} MiB, exit {code}"
    )
    print(f"   skipped: {skipped}")


if __name__ == "__main__":
    main()
