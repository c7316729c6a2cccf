"""What decides a result besides its inputs: the code that computed it, and the CPU kernels
onnxruntime picks. Cached artifacts and recorded evaluations are keyed by these."""
import ast
import hashlib
import platform
from pathlib import Path

# CPU features that change which onnxruntime (MLAS) kernels run, and so the last bits of a logit.
KERNEL_FLAGS = ("avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avxvnni",
                "avx512_bf16", "avx512_fp16", "amx_tile", "amx_int8", "amx_bf16", "asimd", "asimddp", "sve")


def code_hash(root: Path, names) -> str:
    """Hash of the named modules' syntax trees without docstrings: comment and docstring edits
    keep what was computed current, any code change does not."""
    h = hashlib.sha256()
    for name in sorted(names):
        path = root / name
        if path.exists():
            h.update(name.encode() + b"\0" + code_only(path.read_text(encoding="utf-8")).encode())
    return h.hexdigest()


def code_only(text: str) -> str:
    tree = ast.parse(text)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


def cpu_kernels() -> str:
    """The machine and its kernel-relevant CPU features, e.g. ``x86_64 avx avx2 f16c fma``."""
    flags = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    return " ".join([platform.machine()] + sorted(flags & set(KERNEL_FLAGS)))
