"""The "Run live" button of the before/after widgets (base_vs_assistant, adapter_compare): load
the model, wait for its turn (core/model_queue.py), regenerate each lane greedily and compare
it token by token with the text the build precomputed."""

from __future__ import annotations

from core.model_queue import WAITING, StoppedWaiting


async def run_live(s: dict, runtime, lanes, count: int) -> dict:
    """``lanes(model)`` fills ``s["live"][lane]`` with ``{"text", "ids", "match"}`` while this
    widget holds the model; the returned state says whether all ``count`` lanes matched."""
    s.update(phase="running", live={}, status="Loading the model…")
    runtime.show(s)

    def progress(file, loaded, total, source):
        s["status"] = f"Loading {file}: {loaded / 1e6:.0f} of {total / 1e6:.0f} MB"
        runtime.show(s)

    def waiting(holder):
        s["status"] = WAITING
        runtime.show(s)

    try:
        model = await runtime.load_model(s["model"]["path"], "auto", progress)
        async with runtime.turn(model, waiting):
            try:
                await lanes(model)
            finally:
                model.generator.forget()  # the chat's generator must not trust the shared cache now
    except StoppedWaiting:
        s.update(phase="idle", live={}, status="Stopped before the model was free.")
        return s
    except Exception as e:  # the reader sees why; the precomputed lanes stay as they were
        s.update(phase="idle", status=f"Could not run the model here: {e}")
        return s
    done = [d["match"] for d in s["live"].values()]
    same = len(done) == count and all(done)
    s.update(phase="idle", status="Both lanes match the build-time text, token for token." if same
             else "The live run differs from the build-time text (see the lanes).")
    return s


async def each_lane(s: dict, lanes, runtime, status, run_one) -> None:
    """Regenerate ``lanes`` in order, streaming each into ``s["live"][lane]``; ``status(lane)``
    words the wait, ``run_one(lane, on_text)`` returns ``(ids, text, finish, match)``. A stopped
    lane ends the run."""
    for lane in lanes:
        live = {"text": "", "ids": [], "match": None}
        s["live"][lane] = live
        s["status"] = status(lane)

        def on_text(piece, live=live):
            live["text"] += piece
            runtime.show(s)

        ids, text, finish, match = await run_one(lane, on_text)
        live.update(text=text, ids=ids, match=match)
        if finish == "cancelled":
            break
