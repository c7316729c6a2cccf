"""Command line: ``python -m export [SOURCE] [--preset q4|q8|fp32] [--out DIR]``, or
``python -m export --site`` for the site's model (export/site_model.py)."""
import argparse
import signal
import sys

from .errors import ExportError
from .quantize import PRESETS


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="llm-book-export", description=(
        "Export a checkpoint (default: the embedded SmolLM2-135M-Instruct GGUF) to a verified "
        "ONNX artifact folder: model.onnx, tokenizer.json, manifest.json."))
    p.add_argument("source", nargs="?", help="a GGUF file or a Hugging Face checkpoint folder")
    p.add_argument("--preset", default="q4", choices=PRESETS, help="weight format (default q4)")
    p.add_argument("--out", help="artifact folder (default artifacts/<model>-<preset>)")
    p.add_argument("--requantize", action="store_true",
                   help="re-quantize dequantized GGUF weights instead of keeping their blocks")
    p.add_argument("--no-verify", action="store_true", help="skip verification against torch")
    p.add_argument("--adapter", help="a LoRA adapter folder (python -m export.posttrain sft) to apply")
    p.add_argument("--site", action="store_true",
                   help="export the site's model (export/site_model.py: checkpoint, preset and adapter)")
    p.add_argument("--reevaluate", action="store_true",
                   help="measure the adapter's held-out evaluation again instead of reusing its record")
    return p


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv=None) -> int:
    cli = parser()
    args = cli.parse_args(argv)
    if args.site and (args.source or args.adapter or args.out or args.preset != "q4" or args.requantize):
        cli.error("--site exports the model export/site_model.py names; give no source, --adapter, --out, "
                  "--preset or --requantize with it")
    signal.signal(signal.SIGTERM, _interrupt)   # a killed run cleans its temporary folder too
    from .build import build  # torch, onnx and transformers load here, after the arguments are good
    from . import site_model
    try:
        if args.site:
            out = site_model.export(verify=not args.no_verify, reevaluate=args.reevaluate)
        else:
            out = build(args.source, args.preset, args.out, keep_source_quant=not args.requantize,
                        verify=not args.no_verify, adapter=args.adapter, reevaluate=args.reevaluate)
    except ExportError as e:
        print(f"export: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("export: interrupted; no artifact folder was written", file=sys.stderr)
        return 130
    print(out)
    return 0
